package main

// IBM/sarama: SyncProducer, Consumer (per partition), ConsumerGroup and ClusterAdmin. The Kafka
// version sarama is configured with decides which request versions it sends (capped by what the
// broker advertises in ApiVersions).

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

type saramaClient struct {
	bootstrap string
	spec      *Spec
	version   sarama.KafkaVersion
}

type recordingProxyDialer struct{}

func (recordingProxyDialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return dialRecording(ctx, network, addr)
}

func newSarama(bootstrap string, spec *Spec) *saramaClient {
	sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Lmicroseconds)
	if spec.Debug {
		sarama.DebugLogger = log.New(os.Stderr, "[sarama debug] ", log.Lmicroseconds)
	}
	v := sarama.MaxVersion
	if spec.Version != "" {
		var err error
		v, err = sarama.ParseKafkaVersion(spec.Version)
		check(err, "sarama.ParseKafkaVersion")
	}
	return &saramaClient{bootstrap: bootstrap, spec: spec, version: v}
}

func (s *saramaClient) config(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = clientID
	c.Version = s.version
	c.Net.Proxy.Enable = true // the "proxy" is the request-recording dialer
	c.Net.Proxy.Dialer = recordingProxyDialer{}
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	// Kafka (and Vltava) create a topic on a metadata request for it by default; the admin
	// steps on a topic that does not exist must not create it.
	c.Metadata.AllowAutoTopicCreation = false
	c.Producer.Return.Successes = true
	c.Producer.Flush.Frequency = 5 * time.Millisecond
	c.Consumer.MaxWaitTime = 200 * time.Millisecond
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	c.Consumer.Group.Session.Timeout = 10 * time.Second
	c.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	c.Consumer.Group.Rebalance.Retry.Backoff = 200 * time.Millisecond
	c.Admin.Timeout = 10 * time.Second
	return c
}

func (s *saramaClient) producerConfig(clientID, codec string, manual bool) *sarama.Config {
	c := s.config(clientID)
	switch codec {
	case "none", "":
		c.Producer.Compression = sarama.CompressionNone
	case "gzip":
		c.Producer.Compression = sarama.CompressionGZIP
	case "snappy":
		c.Producer.Compression = sarama.CompressionSnappy
	case "lz4":
		c.Producer.Compression = sarama.CompressionLZ4
	case "zstd":
		c.Producer.Compression = sarama.CompressionZSTD
	default:
		fatalf("unknown codec %q", codec)
	}
	if manual {
		c.Producer.Partitioner = sarama.NewManualPartitioner
	}
	c.Producer.RequiredAcks = sarama.WaitForAll
	if s.spec.Acks == "leader" {
		c.Producer.RequiredAcks = sarama.WaitForLocal
	}
	if s.spec.Idempotent {
		c.Producer.Idempotent = true
		c.Producer.RequiredAcks = sarama.WaitForAll
		c.Net.MaxOpenRequests = 1
	}
	return c
}

func saramaErr(err error) *KErr {
	if err == nil {
		return nil
	}
	var ke sarama.KError
	if errors.As(err, &ke) {
		if ke == sarama.ErrNoError {
			return nil
		}
		return &KErr{Code: int16(ke), Msg: err.Error()}
	}
	return &KErr{Code: -1, Msg: err.Error()}
}

func (s *saramaClient) newClient(clientID string, c *sarama.Config) sarama.Client {
	if c == nil {
		c = s.config(clientID)
	}
	cl, err := sarama.NewClient([]string{s.bootstrap}, c)
	check(err, "sarama.NewClient")
	return cl
}

func toSarama(topic string, r Rec) *sarama.ProducerMessage {
	m := &sarama.ProducerMessage{Topic: topic, Partition: r.P}
	if r.K != nil {
		m.Key = sarama.ByteEncoder(r.K)
	}
	if r.V != nil {
		m.Value = sarama.ByteEncoder(r.V)
	}
	if r.TS != 0 {
		m.Timestamp = fromMillis(r.TS)
	}
	for _, h := range r.H {
		m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
	}
	return m
}

func fromSarama(m *sarama.ConsumerMessage) Rec {
	out := Rec{P: m.Partition, O: m.Offset, K: m.Key, V: m.Value, TS: millis(m.Timestamp), H: []Header{}}
	for _, h := range m.Headers {
		out.H = append(out.H, Header{Key: string(h.Key), Value: h.Value})
	}
	return out
}

func (s *saramaClient) produceWith(p sarama.SyncProducer, topic string, recs []Rec) []Ack {
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		msgs[i] = toSarama(topic, r)
		msgs[i].Metadata = i
	}
	err := p.SendMessages(msgs)
	failed := map[int]error{}
	if err != nil {
		var pes sarama.ProducerErrors
		if !errors.As(err, &pes) {
			fatalf("SendMessages: %v", err)
		}
		for _, pe := range pes {
			failed[pe.Msg.Metadata.(int)] = pe.Err
		}
	}
	acks := make([]Ack, len(recs))
	for i, m := range msgs {
		acks[i] = Ack{I: i, P: m.Partition, O: m.Offset, Err: saramaErr(failed[i])}
	}
	return acks
}

func (s *saramaClient) Create(ctx context.Context, spec *Spec, res result) {
	adm, err := sarama.NewClusterAdmin([]string{s.bootstrap}, s.config("sarama-admin"))
	check(err, "NewClusterAdmin")
	defer adm.Close()
	check(adm.CreateTopic(spec.Topic, &sarama.TopicDetail{NumPartitions: spec.Partitions, ReplicationFactor: 1}, false), "CreateTopic "+spec.Topic)
}

func (s *saramaClient) Produce(ctx context.Context, spec *Spec, res result) {
	chunks := []any{}
	for _, ch := range spec.Chunks {
		cl := s.newClient("", s.producerConfig("sarama-producer-"+ch.Codec, ch.Codec, manualPartitions(ch.Records)))
		p, err := sarama.NewSyncProducerFromClient(cl)
		check(err, "NewSyncProducer")
		acks := s.produceWith(p, spec.Topic, ch.Records)
		check(p.Close(), "producer close")
		cl.Close()
		chunks = append(chunks, map[string]any{"codec": ch.Codec, "acks": acks})
	}
	res["chunks"] = chunks
}

func (s *saramaClient) endOffsets(cl sarama.Client, topic string) map[int32]int64 {
	check(cl.RefreshMetadata(topic), "RefreshMetadata")
	parts, err := cl.Partitions(topic)
	check(err, "Partitions")
	out := map[int32]int64{}
	for _, p := range parts {
		o, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
		check(err, fmt.Sprintf("GetOffset %s/%d newest", topic, p))
		out[p] = o
	}
	return out
}

func (s *saramaClient) Consume(ctx context.Context, spec *Spec, res result) {
	cl := s.newClient("sarama-reader", nil)
	defer cl.Close()
	ends := s.endOffsets(cl, spec.Topic)
	res["end_offsets"] = ends
	consumer, err := sarama.NewConsumerFromClient(cl)
	check(err, "NewConsumer")
	defer consumer.Close()
	recs := []Rec{}
	for p := int32(0); p < int32(len(ends)); p++ {
		if ends[p] == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(spec.Topic, p, sarama.OffsetOldest)
		check(err, fmt.Sprintf("ConsumePartition %d", p))
		for next := int64(-1); next < ends[p]; {
			select {
			case m := <-pc.Messages():
				recs = append(recs, fromSarama(m))
				next = m.Offset + 1
			case e := <-pc.Errors():
				fatalf("partition %d: %v", p, e)
			case <-ctx.Done():
				fatalf("consume partition %d: %v (next offset %d, end %d)", p, ctx.Err(), next, ends[p])
			}
		}
		check(pc.Close(), "partition consumer close")
	}
	res["records"] = recs
}

// ---------------------------------------------------------------------------------------------
// group

type saramaMember struct {
	name    string
	cl      sarama.Client
	group   sarama.ConsumerGroup
	recs    recordsStore
	assign  assignmentStore
	topic   string
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	session sarama.ConsumerGroupSession
	errs    []error
}

func (m *saramaMember) Setup(sess sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	m.session = sess
	m.mu.Unlock()
	m.assign.replace(sess.Claims()[m.topic])
	return nil
}

func (m *saramaMember) Cleanup(sess sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	m.session = nil
	m.mu.Unlock()
	m.assign.replace(nil)
	return nil
}

func (m *saramaMember) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			sess.MarkMessage(msg, "")
			m.recs.add(fromSarama(msg))
		case <-sess.Context().Done():
			return nil
		}
	}
}

func (m *saramaMember) Name() string        { return m.name }
func (m *saramaMember) Assignment() []int32 { return m.assign.get() }
func (m *saramaMember) Records() []Rec      { return m.recs.all() }

func (m *saramaMember) Commit(ctx context.Context) error {
	m.mu.Lock()
	sess := m.session
	before := len(m.errs)
	m.mu.Unlock()
	if sess == nil {
		return errors.New("no active session to commit in")
	}
	sess.Commit() // synchronous; failures arrive on the group's error channel
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) > before {
		return fmt.Errorf("commit: %v", m.errs[before:])
	}
	return nil
}

func (m *saramaMember) Close() error {
	m.cancel()
	<-m.done
	err := m.group.Close() // LeaveGroup
	m.cl.Close()
	return err
}

type saramaGroup struct {
	s    *saramaClient
	spec *Spec
	cl   sarama.Client
	prod sarama.SyncProducer
	adm  sarama.ClusterAdmin
}

func (g *saramaGroup) Produce(ctx context.Context, recs []Rec) []Ack {
	return g.s.produceWith(g.prod, g.spec.Topic, recs)
}

func (g *saramaGroup) EndOffsets(ctx context.Context) map[int32]int64 {
	return g.s.endOffsets(g.cl, g.spec.Topic)
}

func (g *saramaGroup) StartMember(ctx context.Context, name string) member {
	m := &saramaMember{name: name, topic: g.spec.Topic, done: make(chan struct{})}
	m.cl = g.s.newClient("sarama-"+name, nil)
	grp, err := sarama.NewConsumerGroupFromClient(g.spec.Group, m.cl)
	check(err, "NewConsumerGroup")
	m.group = grp
	cctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	go func() {
		for e := range grp.Errors() {
			logf("%s: group error: %v", name, e)
			m.mu.Lock()
			m.errs = append(m.errs, e)
			m.mu.Unlock()
		}
	}()
	go func() {
		defer close(m.done)
		for cctx.Err() == nil {
			if err := grp.Consume(cctx, []string{g.spec.Topic}, m); err != nil && cctx.Err() == nil {
				logf("%s: Consume: %v", name, err)
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	return m
}

func (g *saramaGroup) ListGroups(ctx context.Context) any {
	gs, err := g.adm.ListConsumerGroups()
	if err != nil {
		return map[string]any{"err": saramaErr(err)}
	}
	out := []map[string]any{}
	for name, ptype := range gs {
		out = append(out, map[string]any{"group": name, "protocol_type": ptype})
	}
	return out
}

func (g *saramaGroup) DescribeGroup(ctx context.Context) any {
	ds, err := g.adm.DescribeConsumerGroups([]string{g.spec.Group})
	if err != nil {
		return map[string]any{"err": saramaErr(err)}
	}
	if len(ds) != 1 {
		return map[string]any{"err": &KErr{Code: -1, Msg: fmt.Sprintf("%d groups described", len(ds))}}
	}
	d := ds[0]
	members := []map[string]any{}
	for id, mb := range d.Members {
		parts := []int32{}
		a, err := mb.GetMemberAssignment()
		if err != nil {
			return map[string]any{"err": &KErr{Code: -1, Msg: "decoding assignment: " + err.Error()}}
		}
		if a != nil {
			parts = append(parts, a.Topics[g.spec.Topic]...)
		}
		members = append(members, map[string]any{"client_id": mb.ClientId, "member_id": id, "assignment": sortedParts(parts)})
	}
	var kerr *KErr
	if d.Err != sarama.ErrNoError {
		kerr = saramaErr(d.Err)
	}
	return map[string]any{"state": d.State, "protocol_type": d.ProtocolType, "protocol": d.Protocol,
		"members": members, "err": kerr}
}

func (g *saramaGroup) FetchOffsets(ctx context.Context) any {
	r, err := g.adm.ListConsumerGroupOffsets(g.spec.Group, nil)
	if err != nil {
		return map[string]any{"err": saramaErr(err)}
	}
	out := map[string]any{}
	for p, b := range r.Blocks[g.spec.Topic] {
		var kerr *KErr
		if b.Err != sarama.ErrNoError {
			kerr = saramaErr(b.Err)
		}
		out[fmt.Sprint(p)] = map[string]any{"offset": b.Offset, "metadata": b.Metadata, "err": kerr}
	}
	var top *KErr
	if r.Err != sarama.ErrNoError {
		top = saramaErr(r.Err)
	}
	return map[string]any{"partitions": out, "err": top}
}

func (s *saramaClient) Group(ctx context.Context, spec *Spec, res result) {
	cl := s.newClient("", s.producerConfig("sarama-group-producer", "none", false))
	defer cl.Close()
	prod, err := sarama.NewSyncProducerFromClient(cl)
	check(err, "NewSyncProducer")
	defer prod.Close()
	adm, err := sarama.NewClusterAdmin([]string{s.bootstrap}, s.config("sarama-admin"))
	check(err, "NewClusterAdmin")
	defer adm.Close()
	runGroup(ctx, spec, &saramaGroup{s: s, spec: spec, cl: cl, prod: prod, adm: adm}, res)
}

// ---------------------------------------------------------------------------------------------
// admin

func (s *saramaClient) Admin(ctx context.Context, spec *Spec, res result) {
	cl := s.newClient("", s.producerConfig("sarama-admin", "none", true))
	defer cl.Close()
	adm, err := sarama.NewClusterAdminFromClient(cl)
	check(err, "NewClusterAdmin")
	st := &steps{}
	defer func() { res["steps"] = st.list }()
	t := spec.Topic
	str := func(s string) *string { return &s }

	create := func(name, topic string, parts int32, configs map[string]*string) {
		err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: parts, ReplicationFactor: 1, ConfigEntries: configs}, false)
		st.add(name, nil, saramaErr(err))
	}
	create("create", t, 3, map[string]*string{
		"retention.ms": str("3600000"), "max.message.bytes": str("200000"), "cleanup.policy": str("delete")})
	create("create_again", t, 3, nil)
	create("create_bad_name", "bad name!", 1, nil)
	create("create_bad_config", spec.Absent+"-cfg", 1, map[string]*string{"cleanup.policy": str("bogus")})

	list := func(name string) {
		ts, err := adm.ListTopics()
		out := map[string]int{}
		for n, d := range ts {
			out[n] = int(d.NumPartitions)
		}
		st.add(name, out, saramaErr(err))
	}
	describe := func(name, topic string) {
		md, err := adm.DescribeTopics([]string{topic})
		parts := []map[string]any{}
		if err == nil && len(md) == 1 {
			if md[0].Err != sarama.ErrNoError {
				err = md[0].Err
			}
			for _, p := range md[0].Partitions {
				var perr *KErr
				if p.Err != sarama.ErrNoError {
					perr = saramaErr(p.Err)
				}
				parts = append(parts, map[string]any{"p": p.ID, "leader": p.Leader, "replicas": p.Replicas, "isr": p.Isr, "err": perr})
			}
		}
		st.add(name, map[string]any{"partitions": parts}, saramaErr(err))
	}
	list("list")
	describe("describe", t)
	describe("describe_absent", spec.Absent)

	entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: t})
	configs := map[string]any{}
	for _, e := range entries {
		configs[e.Name] = map[string]any{"value": e.Value, "source": int(e.Source), "sensitive": e.Sensitive, "read_only": e.ReadOnly, "default": e.Default}
	}
	st.add("configs", configs, saramaErr(err))
	_, err = adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: spec.Absent})
	st.add("configs_absent", nil, saramaErr(err))

	updParts := func(name, topic string, n int32) {
		st.add(name, nil, saramaErr(adm.CreatePartitions(topic, n, nil, false)))
	}
	updParts("create_partitions", t, 5)
	check(cl.RefreshMetadata(t), "RefreshMetadata")
	describe("describe_after_partitions", t)
	updParts("create_partitions_fewer", t, 2)
	updParts("create_partitions_absent", spec.Absent, 4)

	recs := make([]Rec, 10)
	for i := range recs {
		recs[i] = Rec{P: 0, K: Bytes(fmt.Sprintf("k%d", i)), V: Bytes(fmt.Sprintf("v%d", i)), TS: spec.BaseTS + int64(i)*1000}
	}
	prod, err := sarama.NewSyncProducerFromClient(cl)
	check(err, "NewSyncProducer")
	st.add("produce", s.produceWith(prod, t, recs), nil)
	check(prod.Close(), "producer close")

	listOffsets := func(name string, query int64) {
		q := map[string]map[int32]int64{t: {}}
		for p := int32(0); p < 5; p++ {
			q[t][p] = query
		}
		r, err := adm.ListOffsets(q, nil)
		out := map[string]any{}
		for p, o := range r[t] {
			out[fmt.Sprint(p)] = map[string]any{"offset": o.Offset, "timestamp": o.Timestamp, "err": saramaErr(o.Err)}
		}
		st.add(name, out, saramaErr(err))
	}
	listOffsets("offsets_earliest", sarama.OffsetOldest)
	listOffsets("offsets_latest", sarama.OffsetNewest)
	listOffsets("offsets_ts", spec.BaseTS+3500)
	listOffsets("offsets_ts_future", spec.BaseTS+3_600_000)

	st.add("delete_records", nil, saramaErr(adm.DeleteRecords(t, map[int32]int64{0: 4})))
	listOffsets("offsets_earliest_after_delete", sarama.OffsetOldest)
	st.add("delete_records_beyond", nil, saramaErr(adm.DeleteRecords(t, map[int32]int64{0: 100})))
	st.add("delete_records_absent", nil, saramaErr(adm.DeleteRecords(spec.Absent, map[int32]int64{0: 1})))

	if ds, err := adm.DescribeConsumerGroups([]string{spec.Absent}); err != nil || len(ds) != 1 {
		st.add("describe_group_absent", nil, saramaErr(err))
	} else {
		st.add("describe_group_absent", map[string]any{"state": ds[0].State, "members": len(ds[0].Members), "err": saramaErr(ds[0].Err)}, nil)
	}

	st.add("delete", nil, saramaErr(adm.DeleteTopic(t)))
	st.add("delete_again", nil, saramaErr(adm.DeleteTopic(t)))
	list("list_after_delete")
}
