package main

// franz-go: kgo (producer, direct consumer, consumer group) and kadm (admin).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

type franz struct {
	bootstrap string
	spec      *Spec
}

func newFranz(bootstrap string, spec *Spec) *franz { return &franz{bootstrap: bootstrap, spec: spec} }

// opts: the options every franz client here uses; the log goes to stderr (debug level when the
// spec asks for it: every request and response is logged with its version).
func (f *franz) opts(clientID string, extra ...kgo.Opt) []kgo.Opt {
	level := kgo.LogLevelInfo
	if f.spec.Debug {
		level = kgo.LogLevelDebug
	}
	prefix := func() string { return "[franz " + clientID + "] " }
	o := []kgo.Opt{
		kgo.SeedBrokers(f.bootstrap),
		kgo.ClientID(clientID),
		kgo.Dialer(f.dialer()),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, level, prefix)),
		kgo.RetryTimeout(10 * time.Second),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	if s := f.spec.SASL; s != nil {
		o = append(o, kgo.SASL(franzSASL(s)))
	}
	return append(o, extra...)
}

// dialer: the recording dialer, with TLS over it when the spec names a CA (and a client
// certificate when it names one).
func (f *franz) dialer() func(ctx context.Context, network, host string) (net.Conn, error) {
	if f.spec.TLSCA == "" {
		return dialRecording
	}
	pem, err := os.ReadFile(f.spec.TLSCA)
	check(err, "read tls_ca")
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fatalf("no certificate in %s", f.spec.TLSCA)
	}
	var certs []tls.Certificate
	if f.spec.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(f.spec.TLSCert, f.spec.TLSKey)
		check(err, "load tls_cert/tls_key")
		certs = append(certs, cert)
	}
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		conn, err := dialRecording(ctx, network, host)
		if err != nil {
			return nil, err
		}
		name, _, _ := net.SplitHostPort(host)
		return tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: name, Certificates: certs}), nil
	}
}

func franzSASL(s *SASLSpec) sasl.Mechanism {
	switch s.Mechanism {
	case "PLAIN":
		return plain.Auth{User: s.User, Pass: s.Password}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism()
	case "OAUTHBEARER":
		return oauth.Auth{Token: s.Token}.AsMechanism()
	}
	fatalf("unknown SASL mechanism %q", s.Mechanism)
	return nil
}

func (f *franz) client(clientID string, extra ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(f.opts(clientID, extra...)...)
	check(err, "kgo.NewClient")
	return cl
}

func franzCodec(name string) kgo.CompressionCodec {
	switch name {
	case "none", "":
		return kgo.NoCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	fatalf("unknown codec %q", name)
	return kgo.NoCompression()
}

func franzErr(err error) *KErr {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return &KErr{Code: ke.Code, Msg: err.Error()}
	}
	return &KErr{Code: -1, Msg: err.Error()}
}

func toKgo(topic string, r Rec) *kgo.Record {
	out := &kgo.Record{Topic: topic, Key: r.K, Value: r.V, Partition: r.P}
	if r.K == nil {
		out.Key = nil
	}
	if r.V == nil {
		out.Value = nil
	}
	if r.TS != 0 {
		out.Timestamp = fromMillis(r.TS)
	}
	for _, h := range r.H {
		out.Headers = append(out.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return out
}

func fromKgo(r *kgo.Record) Rec {
	out := Rec{P: r.Partition, O: r.Offset, K: r.Key, V: r.Value, TS: millis(r.Timestamp), H: []Header{}}
	for _, h := range r.Headers {
		out.H = append(out.H, Header{Key: h.Key, Value: h.Value})
	}
	return out
}

// partitioner: records with p >= 0 go there (ManualPartitioner), otherwise kgo's default
// (murmur2 on the key, like the Java client; sticky for null keys).
func (f *franz) producerOpts(codec string, manual bool) []kgo.Opt {
	o := []kgo.Opt{kgo.ProducerBatchCompression(franzCodec(codec)), kgo.ProducerLinger(5 * time.Millisecond)}
	if manual {
		o = append(o, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	if !f.spec.Idempotent {
		o = append(o, kgo.DisableIdempotentWrite())
	}
	if f.spec.Acks == "leader" {
		o = append(o, kgo.RequiredAcks(kgo.LeaderAck()))
	}
	return o
}

func manualPartitions(recs []Rec) bool {
	for _, r := range recs {
		if r.P >= 0 {
			return true
		}
	}
	return false
}

func (f *franz) produceWith(ctx context.Context, cl *kgo.Client, topic string, recs []Rec) []Ack {
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = toKgo(topic, r)
	}
	index := make(map[*kgo.Record]int, len(krs))
	for i, kr := range krs {
		index[kr] = i
	}
	// ProduceSync's results come in completion order, not in the order given.
	results := cl.ProduceSync(ctx, krs...)
	acks := make([]Ack, len(recs))
	for _, pr := range results {
		i := index[pr.Record]
		acks[i] = Ack{I: i, P: pr.Record.Partition, O: pr.Record.Offset, Err: franzErr(pr.Err)}
	}
	return acks
}

func (f *franz) Create(ctx context.Context, spec *Spec, res result) {
	cl := f.client("franz-admin")
	defer cl.Close()
	r, err := kadm.NewClient(cl).CreateTopic(ctx, spec.Partitions, 1, nil, spec.Topic)
	if err == nil {
		err = r.Err
	}
	check(err, "CreateTopic "+spec.Topic)
}

func (f *franz) Produce(ctx context.Context, spec *Spec, res result) {
	chunks := []any{}
	for _, ch := range spec.Chunks {
		cl := f.client("franz-producer-"+ch.Codec, f.producerOpts(ch.Codec, manualPartitions(ch.Records))...)
		acks := f.produceWith(ctx, cl, spec.Topic, ch.Records)
		cl.Close()
		chunks = append(chunks, map[string]any{"codec": ch.Codec, "acks": acks})
	}
	res["chunks"] = chunks
}

func (f *franz) endOffsets(ctx context.Context, adm *kadm.Client, topic string) map[int32]int64 {
	lo, err := adm.ListEndOffsets(ctx, topic)
	check(err, "ListEndOffsets")
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) {
		check(o.Err, fmt.Sprintf("ListEndOffsets %s/%d", o.Topic, o.Partition))
		out[o.Partition] = o.Offset
	})
	return out
}

// Consume reads every partition from the start (no group) up to the end offsets listed first.
func (f *franz) Consume(ctx context.Context, spec *Spec, res result) {
	cl := f.client("franz-reader", kgo.ConsumeTopics(spec.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends := f.endOffsets(ctx, adm, spec.Topic)
	res["end_offsets"] = ends
	recs := []Rec{}
	next := map[int32]int64{}
	done := func() bool {
		for p, e := range ends {
			if next[p] < e {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			fatalf("consume: %v after %d records (next offsets %v, end offsets %v)", ctx.Err(), len(recs), next, ends)
		}
		fs.EachError(func(t string, p int32, err error) { fatalf("fetch %s/%d: %v", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, fromKgo(r))
			next[r.Partition] = r.Offset + 1
		})
	}
	res["records"] = recs
}

// ---------------------------------------------------------------------------------------------
// group

type franzMember struct {
	name    string
	cl      *kgo.Client
	recs    recordsStore
	assign  assignmentStore
	cancel  context.CancelFunc
	done    chan struct{}
	pollErr chan error
}

func (m *franzMember) Name() string        { return m.name }
func (m *franzMember) Assignment() []int32 { return m.assign.get() }
func (m *franzMember) Records() []Rec      { return m.recs.all() }
func (m *franzMember) Commit(ctx context.Context) error {
	return m.cl.CommitUncommittedOffsets(ctx)
}
func (m *franzMember) Close() error {
	m.cancel()
	<-m.done
	m.cl.Close() // leaves the group (LeaveGroup)
	return nil
}

type franzGroup struct {
	f    *franz
	spec *Spec
	prod *kgo.Client
	adm  *kadm.Client
}

func (g *franzGroup) Produce(ctx context.Context, recs []Rec) []Ack {
	return g.f.produceWith(ctx, g.prod, g.spec.Topic, recs)
}

func (g *franzGroup) EndOffsets(ctx context.Context) map[int32]int64 {
	return g.f.endOffsets(ctx, g.adm, g.spec.Topic)
}

func (g *franzGroup) StartMember(ctx context.Context, name string) member {
	m := &franzMember{name: name, done: make(chan struct{})}
	topic := g.spec.Topic
	parts := func(a map[string][]int32) []int32 { return a[topic] }
	gopts := []kgo.Opt{
		kgo.ConsumerGroup(g.spec.Group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.SessionTimeout(10 * time.Second),
		kgo.RebalanceTimeout(10 * time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { m.assign.add(parts(a)) }),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) { m.assign.remove(parts(r)) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) { m.assign.remove(parts(l)) }),
	}
	if g.spec.ServerSideBalancer {
		// Opt into KIP-848; kgo uses it only when the broker advertises ConsumerGroupHeartbeat v1.
		gopts = append(gopts, kgo.Balancers(kgo.RangeBalancer()), kgo.ServerSideBalancer())
	}
	m.cl = g.f.client("franz-"+name, gopts...)
	pctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for pctx.Err() == nil {
			fs := m.cl.PollFetches(pctx)
			fs.EachError(func(t string, p int32, err error) {
				if !errors.Is(err, context.Canceled) {
					logf("%s: fetch error %s/%d: %v", name, t, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) { m.recs.add(fromKgo(r)) })
		}
	}()
	return m
}

func (g *franzGroup) ListGroups(ctx context.Context) any {
	lg, err := g.adm.ListGroups(ctx)
	if err != nil {
		return map[string]any{"err": franzErr(err)}
	}
	out := []map[string]any{}
	for _, l := range lg.Sorted() {
		out = append(out, map[string]any{"group": l.Group, "state": l.State, "protocol_type": l.ProtocolType})
	}
	return out
}

func (g *franzGroup) DescribeGroup(ctx context.Context) any {
	dg, err := g.adm.DescribeGroups(ctx, g.spec.Group)
	if err != nil {
		return map[string]any{"err": franzErr(err)}
	}
	d, ok := dg[g.spec.Group]
	if !ok {
		return map[string]any{"err": &KErr{Code: -1, Msg: "group missing from DescribeGroups"}}
	}
	members := []map[string]any{}
	for _, mb := range d.Members {
		parts := []int32{}
		if c, ok := mb.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				if t.Topic == g.spec.Topic {
					parts = append(parts, t.Partitions...)
				}
			}
		}
		members = append(members, map[string]any{"client_id": mb.ClientID, "member_id": mb.MemberID, "assignment": sortedParts(parts)})
	}
	return map[string]any{"state": d.State, "protocol_type": d.ProtocolType, "protocol": d.Protocol,
		"members": members, "err": franzErr(d.Err)}
}

func (g *franzGroup) FetchOffsets(ctx context.Context) any {
	or, err := g.adm.FetchOffsets(ctx, g.spec.Group)
	if err != nil {
		return map[string]any{"err": franzErr(err)}
	}
	out := map[string]any{}
	or.Each(func(o kadm.OffsetResponse) {
		if o.Topic == g.spec.Topic {
			out[fmt.Sprint(o.Partition)] = map[string]any{"offset": o.At, "metadata": o.Metadata, "err": franzErr(o.Err)}
		}
	})
	return map[string]any{"partitions": out}
}

func (f *franz) Group(ctx context.Context, spec *Spec, res result) {
	prod := f.client("franz-group-producer", f.producerOpts("none", false)...)
	defer prod.Close()
	g := &franzGroup{f: f, spec: spec, prod: prod, adm: kadm.NewClient(prod)}
	runGroup(ctx, spec, g, res)
}

// ---------------------------------------------------------------------------------------------
// admin

type steps struct{ list []map[string]any }

func (s *steps) add(name string, ok any, err *KErr) {
	e := map[string]any{"step": name}
	if err != nil {
		e["err"] = err
	} else {
		e["ok"] = ok
	}
	s.list = append(s.list, e)
}

func (f *franz) Admin(ctx context.Context, spec *Spec, res result) {
	cl := f.client("franz-admin", kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableIdempotentWrite())
	defer cl.Close()
	adm := kadm.NewClient(cl)
	st := &steps{}
	defer func() { res["steps"] = st.list }()
	t := spec.Topic

	str := func(s string) *string { return &s }
	createOne := func(name string, topic string, parts int32, configs map[string]*string) {
		r, err := adm.CreateTopic(ctx, parts, 1, configs, topic)
		if err == nil {
			err = r.Err
		}
		st.add(name, map[string]any{"partitions": r.NumPartitions}, franzErr(err))
	}
	createOne("create", t, 3, map[string]*string{
		"retention.ms": str("3600000"), "max.message.bytes": str("200000"), "cleanup.policy": str("delete")})
	createOne("create_again", t, 3, nil)
	createOne("create_bad_name", "bad name!", 1, nil)
	createOne("create_bad_config", spec.Absent+"-cfg", 1, map[string]*string{"cleanup.policy": str("bogus")})

	// Listing and describing go through a new client each time: kadm answers them from kgo's
	// metadata cache (5 s by default), which would still show a topic just deleted.
	fresh := func() (*kadm.Client, func()) {
		c := f.client("franz-admin-list")
		return kadm.NewClient(c), c.Close
	}
	list := func(name string) {
		adm, done := fresh()
		defer done()
		td, err := adm.ListTopics(ctx)
		out := map[string]int{}
		for _, d := range td {
			out[d.Topic] = len(d.Partitions)
		}
		st.add(name, out, franzErr(err))
	}
	describe := func(name, topic string) {
		adm, done := fresh()
		defer done()
		td, err := adm.ListTopics(ctx, topic)
		if err == nil {
			err = td[topic].Err
		}
		parts := []map[string]any{}
		for _, p := range td[topic].Partitions.Sorted() {
			parts = append(parts, map[string]any{"p": p.Partition, "leader": p.Leader, "replicas": p.Replicas, "isr": p.ISR, "err": franzErr(p.Err)})
		}
		st.add(name, map[string]any{"partitions": parts}, franzErr(err))
	}
	list("list")
	describe("describe", t)
	describe("describe_absent", spec.Absent)

	rcs, err := adm.DescribeTopicConfigs(ctx, t)
	if err == nil && len(rcs) == 1 {
		err = rcs[0].Err
	}
	configs := map[string]any{}
	if err == nil {
		for _, c := range rcs[0].Configs {
			configs[c.Key] = map[string]any{"value": c.Value, "source": int(c.Source), "sensitive": c.Sensitive}
		}
	}
	st.add("configs", configs, franzErr(err))
	rcs, err = adm.DescribeTopicConfigs(ctx, spec.Absent)
	if err == nil && len(rcs) == 1 {
		err = rcs[0].Err
	}
	st.add("configs_absent", nil, franzErr(err))

	updParts := func(name, topic string, n int) {
		r, err := adm.UpdatePartitions(ctx, n, topic)
		if err == nil {
			err = r[topic].Err
		}
		st.add(name, nil, franzErr(err))
	}
	updParts("create_partitions", t, 5)
	describe("describe_after_partitions", t)
	updParts("create_partitions_fewer", t, 2)
	updParts("create_partitions_absent", spec.Absent, 4)

	// ten records in partition 0, one second apart
	recs := make([]Rec, 10)
	for i := range recs {
		recs[i] = Rec{P: 0, K: Bytes(fmt.Sprintf("k%d", i)), V: Bytes(fmt.Sprintf("v%d", i)), TS: spec.BaseTS + int64(i)*1000}
	}
	st.add("produce", f.produceWith(ctx, cl, t, recs), nil)

	listed := func(name string, lo kadm.ListedOffsets, err error) {
		out := map[string]any{}
		lo.Each(func(o kadm.ListedOffset) {
			out[fmt.Sprint(o.Partition)] = map[string]any{"offset": o.Offset, "timestamp": o.Timestamp, "err": franzErr(o.Err)}
		})
		st.add(name, out, franzErr(err))
	}
	lo, err := adm.ListStartOffsets(ctx, t)
	listed("offsets_earliest", lo, err)
	lo, err = adm.ListEndOffsets(ctx, t)
	listed("offsets_latest", lo, err)
	lo, err = adm.ListOffsetsAfterMilli(ctx, spec.BaseTS+3500, t)
	listed("offsets_ts", lo, err)
	lo, err = adm.ListOffsetsAfterMilli(ctx, spec.BaseTS+3_600_000, t)
	listed("offsets_ts_future", lo, err)
	// The same two lookups as raw ListOffsets requests, to see the broker's own answer (kadm
	// turns "no such offset" (-1) into the end offset).
	for _, q := range []struct {
		name string
		ts   int64
	}{{"raw_offsets_ts", spec.BaseTS + 3500}, {"raw_offsets_ts_future", spec.BaseTS + 3_600_000}} {
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = t
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = 0
		rp.Timestamp = q.ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		out := map[string]any{}
		if err == nil {
			p := resp.Topics[0].Partitions[0]
			out = map[string]any{"offset": p.Offset, "timestamp": p.Timestamp, "code": p.ErrorCode, "version": resp.Version}
		}
		st.add(q.name, out, franzErr(err))
	}

	deleteRecs := func(name, topic string, before int64) {
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: before})
		r, err := adm.DeleteRecords(ctx, os)
		out := map[string]any{}
		if err == nil {
			d, ok := r.Lookup(topic, 0)
			if !ok {
				err = errors.New("partition missing from DeleteRecords response")
			} else {
				err = d.Err
				out["low_watermark"] = d.LowWatermark
			}
		}
		st.add(name, out, franzErr(err))
	}
	deleteRecs("delete_records", t, 4)
	lo, err = adm.ListStartOffsets(ctx, t)
	listed("offsets_earliest_after_delete", lo, err)
	deleteRecs("delete_records_beyond", t, 100)
	deleteRecs("delete_records_absent", spec.Absent, 1)

	dg, err := adm.DescribeGroups(ctx, spec.Absent)
	if err == nil {
		d := dg[spec.Absent]
		st.add("describe_group_absent", map[string]any{"state": d.State, "members": len(d.Members), "err": franzErr(d.Err)}, nil)
	} else {
		st.add("describe_group_absent", nil, franzErr(err))
	}

	del := func(name, topic string) {
		r, err := adm.DeleteTopics(ctx, topic)
		if err == nil {
			err = r[topic].Err
		}
		st.add(name, nil, franzErr(err))
	}
	del("delete", t)
	del("delete_again", t)
	list("list_after_delete")
}
