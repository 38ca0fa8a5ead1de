#!/usr/bin/env node
// kafkajs driver for the compat suite. compat-tests/python/test_kafkajs.py runs it and makes every
// assertion; this program only performs client calls and prints what the client returned, one JSON
// object per line on stdout.
//
//   node kjs.js admin   <bootstrap> '<json>'   {"ops": [{"op": "createTopics", ...}, ...]}
//   node kjs.js produce <bootstrap> '<json>'   {"topic", "sends": [[msg, ...], ...], "compression",
//                                               "idempotent", "acks"}
//   node kjs.js consume <bootstrap> '<json>'   a group member that runs until "stop" on stdin
//
// KJS_LOG=debug (or info, warn) sends kafkajs's own log to stderr as JSON lines; the tests turn it
// on to read the request versions the client negotiated.
'use strict'

const readline = require('readline')
const {
  Kafka,
  CompressionTypes,
  logLevel,
  AssignerProtocol: { MemberAssignment, MemberMetadata },
} = require('kafkajs')

const out = obj => process.stdout.write(JSON.stringify(obj) + '\n')

const LOG_LEVELS = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
}

function kafkaFor(bootstrap, clientId) {
  const level = LOG_LEVELS[process.env.KJS_LOG || 'nothing']
  return new Kafka({
    clientId: clientId || 'compat-kjs',
    brokers: [bootstrap],
    logLevel: level === undefined ? logLevel.NOTHING : level,
    logCreator: () => ({ namespace, level, label, log }) => {
      process.stderr.write(JSON.stringify({ level: label, namespace, ...log }) + '\n')
    },
    connectionTimeout: 3000,
    requestTimeout: 10000,
    // Few, quick retries: a broker that answers wrongly should fail the test fast, not after
    // kafkajs's default back-off of half a minute.
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
  })
}

// Everything worth asserting on from a kafkajs error: its class, the protocol error type and
// code, the errors inside an aggregate, and the cause of a retries-exceeded error.
function describeError(e) {
  if (!e) return null
  const d = { name: e.name, message: e.message }
  if (e.type !== undefined) d.type = e.type
  if (e.code !== undefined) d.code = e.code
  if (Array.isArray(e.errors)) d.errors = e.errors.map(describeError)
  // KafkaJSDeleteGroupsError: per-group results with their protocol errors
  if (Array.isArray(e.groups)) {
    d.groups = e.groups.map(g => ({ groupId: g.groupId, errorCode: g.errorCode, error: describeError(g.error) }))
  }
  // KafkaJSDeleteTopicRecordsError: per-partition results
  if (Array.isArray(e.partitions)) {
    d.partitions = e.partitions.map(p => ({ partition: p.partition, offset: p.offset, error: describeError(p.error) }))
  }
  const cause = e.originalError || e.cause
  if (cause && cause !== e) d.cause = describeError(cause)
  return d
}

const str = b => (b === null || b === undefined ? null : Buffer.from(b).toString('utf8'))

function headersOut(headers) {
  const h = {}
  for (const [k, v] of Object.entries(headers || {})) {
    h[k] = Array.isArray(v) ? v.map(str) : str(v)
  }
  return h
}

function headersHexOut(headers) {
  const h = {}
  const hex = b => (b === null || b === undefined ? null : Buffer.from(b).toString('hex'))
  for (const [k, v] of Object.entries(headers || {})) {
    h[k] = Array.isArray(v) ? v.map(hex) : hex(v)
  }
  return h
}

function decodeAssignment(buf) {
  if (!buf || buf.length === 0) return null
  const a = MemberAssignment.decode(buf)
  return a ? a.assignment : null
}

// ---------------------------------------------------------------------------------------------
// admin: a list of operations, one output line each ({op, ok} or {op, error}).

async function runAdmin(bootstrap, spec) {
  const kafka = kafkaFor(bootstrap, spec.clientId || 'compat-kjs-admin')
  const admin = kafka.admin()
  await admin.connect()
  try {
    for (const o of spec.ops) {
      const t0 = Date.now()
      try {
        const ok = await adminOp(admin, o)
        out({ op: o.op, ok, ms: Date.now() - t0 })
      } catch (e) {
        out({ op: o.op, error: describeError(e), ms: Date.now() - t0 })
      }
    }
  } finally {
    await admin.disconnect()
  }
}

async function adminOp(admin, o) {
  switch (o.op) {
    case 'createTopics':
      // Resolves true when created and false when every topic already existed (kafkajs's answer
      // to TOPIC_ALREADY_EXISTS); other broker errors reject.
      return admin.createTopics({ topics: o.topics, timeout: 5000, waitForLeaders: o.waitForLeaders !== false })
    case 'listTopics':
      return (await admin.listTopics()).sort()
    case 'fetchTopicMetadata':
      return admin.fetchTopicMetadata({ topics: o.topics })
    case 'describeCluster':
      return admin.describeCluster()
    case 'deleteTopics':
      await admin.deleteTopics({ topics: o.topics, timeout: 5000 })
      return true
    case 'fetchTopicOffsets':
      return admin.fetchTopicOffsets(o.topic)
    case 'fetchTopicOffsetsByTimestamp':
      return admin.fetchTopicOffsetsByTimestamp(o.topic, o.timestamp)
    case 'fetchOffsets':
      return admin.fetchOffsets({ groupId: o.groupId, topics: o.topics })
    case 'setOffsets':
      // kafkajs joins the (empty) group with a throw-away member, seeks and commits.
      await admin.setOffsets({ groupId: o.groupId, topic: o.topic, partitions: o.partitions })
      return true
    case 'resetOffsets':
      await admin.resetOffsets({ groupId: o.groupId, topic: o.topic, earliest: !!o.earliest })
      return true
    case 'listGroups':
      return admin.listGroups()
    case 'describeGroups': {
      const { groups } = await admin.describeGroups(o.groupIds)
      return groups.map(g => ({
        ...g,
        members: g.members.map(m => ({
          memberId: m.memberId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          subscription: m.memberMetadata && m.memberMetadata.length
            ? MemberMetadata.decode(m.memberMetadata).topics
            : null,
          assignment: decodeAssignment(m.memberAssignment),
        })),
      }))
    }
    case 'deleteGroups':
      return admin.deleteGroups(o.groupIds)
    case 'createPartitions':
      await admin.createPartitions({ topicPartitions: o.topicPartitions, timeout: 5000 })
      return true
    case 'describeConfigs':
      return admin.describeConfigs({ resources: o.resources, includeSynonyms: !!o.includeSynonyms })
    case 'alterConfigs':
      return admin.alterConfigs({ resources: o.resources, validateOnly: !!o.validateOnly })
    case 'deleteTopicRecords':
      await admin.deleteTopicRecords({ topic: o.topic, partitions: o.partitions })
      return true
    default:
      throw new Error(`unknown admin op ${o.op}`)
  }
}

// ---------------------------------------------------------------------------------------------
// produce: each element of spec.sends is one producer.send() call; prints its RecordMetadata.

// A message in the spec: key/value are UTF-8 strings or null; valueRepeat {char, count} makes a
// large value; headers are strings (or arrays of them), headersHex holds binary header values.
function messageIn(m) {
  const value = m.valueRepeat ? m.valueRepeat.char.repeat(m.valueRepeat.count) : m.value
  const msg = { value: value === null ? null : Buffer.from(value, 'utf8') }
  if (m.key !== undefined) msg.key = m.key === null ? null : Buffer.from(m.key, 'utf8')
  if (m.headers || m.headersHex) msg.headers = { ...(m.headers || {}) }
  for (const [k, v] of Object.entries(m.headersHex || {})) msg.headers[k] = Buffer.from(v, 'hex')
  if (m.partition !== undefined) msg.partition = m.partition
  if (m.timestamp !== undefined) msg.timestamp = String(m.timestamp)
  return msg
}

async function runProduce(bootstrap, spec) {
  const kafka = kafkaFor(bootstrap, spec.clientId || 'compat-kjs-producer')
  const producer = kafka.producer({
    idempotent: !!spec.idempotent,
    // The idempotent producer keeps one request in flight per broker, as kafkajs recommends.
    maxInFlightRequests: spec.idempotent ? 1 : undefined,
    allowAutoTopicCreation: false,
  })
  await producer.connect()
  try {
    const compression = spec.compression ? CompressionTypes[spec.compression] : CompressionTypes.None
    if (compression === undefined) throw new Error(`unknown compression ${spec.compression}`)
    for (const [i, batch] of spec.sends.entries()) {
      try {
        const md = await producer.send({
          topic: spec.topic,
          acks: spec.acks === undefined ? -1 : spec.acks,
          compression,
          messages: batch.map(messageIn),
        })
        out({ send: i, ok: md.map(r => ({ partition: r.partition, errorCode: r.errorCode, baseOffset: r.baseOffset })) })
      } catch (e) {
        out({ send: i, error: describeError(e) })
      }
    }
  } finally {
    await producer.disconnect()
  }
}

// ---------------------------------------------------------------------------------------------
// consume: a group member. Prints "joined" (with the assignment) after every join, "record" per
// message, "committed" after each successful commit (offsets are the next offset to read, as on
// the wire), and "closed" after leaving the group on "stop".

async function runConsume(bootstrap, spec) {
  const kafka = kafkaFor(bootstrap, spec.clientId || 'compat-kjs-consumer')
  const consumer = kafka.consumer({
    groupId: spec.groupId,
    sessionTimeout: spec.sessionTimeout || 6000,
    rebalanceTimeout: spec.rebalanceTimeout || 10000,
    heartbeatInterval: spec.heartbeatInterval || 500,
    // kafkajs heartbeats between fetches: short fetch waits keep the member responsive to a
    // rebalance.
    maxWaitTimeInMs: spec.maxWaitTimeInMs || 200,
    allowAutoTopicCreation: false,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
  })
  const { GROUP_JOIN, CRASH, REBALANCING } = consumer.events
  consumer.on(GROUP_JOIN, ({ payload }) => {
    out({
      event: 'joined',
      memberId: payload.memberId,
      leaderId: payload.leaderId,
      isLeader: payload.isLeader,
      groupProtocol: payload.groupProtocol,
      assignment: payload.memberAssignment,
    })
  })
  consumer.on(REBALANCING, ({ payload }) => out({ event: 'rebalancing', memberId: payload.memberId }))
  consumer.on(CRASH, ({ payload }) => out({ event: 'crash', error: describeError(payload.error), restart: payload.restart }))

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    try {
      await consumer.disconnect() // stops the runner, commits nothing more, sends LeaveGroup
      out({ event: 'closed' })
      process.exit(0)
    } catch (e) {
      out({ event: 'close-failed', error: describeError(e) })
      process.exit(3)
    }
  }
  readline.createInterface({ input: process.stdin }).on('line', line => {
    if (line.trim() === 'stop') stop()
  })
  process.on('SIGTERM', stop)

  await consumer.connect()
  await consumer.subscribe({ topics: spec.topics, fromBeginning: spec.fromBeginning !== false })
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
      if (batch.isEmpty()) return
      for (const m of batch.messages) {
        out({
          event: 'record',
          topic: batch.topic,
          partition: batch.partition,
          offset: Number(m.offset),
          key: str(m.key),
          value: str(m.value),
          headers: headersOut(m.headers),
          headersHex: headersHexOut(m.headers),
          timestamp: Number(m.timestamp),
          producerId: Number(m.batchContext.producerId),
          producerEpoch: m.batchContext.producerEpoch,
          firstSequence: m.batchContext.firstSequence,
          firstOffset: Number(m.batchContext.firstOffset),
        })
      }
      if (spec.commit === false || !isRunning() || isStale()) return
      const next = String(Number(batch.lastOffset()) + 1)
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }])
      out({ event: 'committed', topic: batch.topic, partition: batch.partition, offset: Number(next) })
      await heartbeat()
    },
  })
  out({ event: 'running' })
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const [cmd, bootstrap, json] = process.argv.slice(2)
  const spec = JSON.parse(json || '{}')
  switch (cmd) {
    case 'admin':
      return runAdmin(bootstrap, spec)
    case 'produce':
      return runProduce(bootstrap, spec)
    case 'consume':
      return runConsume(bootstrap, spec)
    default:
      throw new Error(`usage: kjs.js admin|produce|consume <bootstrap> <json>`)
  }
}

main().catch(e => {
  out({ fatal: describeError(e), stack: e && e.stack })
  process.exit(2)
})
