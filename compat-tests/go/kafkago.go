package main

// segmentio/kafka-go: Writer (produce), Reader (per partition, and with GroupID for a consumer
// group) and Client (admin). kafka-go has no DeleteRecords call.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

type kafkaGo struct {
	bootstrap string
	spec      *Spec
}

func newKafkaGo(bootstrap string, spec *Spec) *kafkaGo {
	return &kafkaGo{bootstrap: bootstrap, spec: spec}
}

type kgLogger struct {
	prefix string
	on     func(msg string, args ...any)
}

func (l kgLogger) Printf(format string, args ...any) {
	if l.on != nil {
		l.on(format, args...)
	}
	fmt.Fprintf(os.Stderr, l.prefix+strings.TrimRight(format, "\n")+"\n", args...)
}

func (k *kafkaGo) transport(clientID string) *kafka.Transport {
	return &kafka.Transport{Dial: dialRecording, ClientID: clientID, MetadataTTL: time.Second}
}

func (k *kafkaGo) adminClient() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(k.bootstrap), Timeout: 10 * time.Second, Transport: k.transport("kafkago-admin")}
}

func (k *kafkaGo) dialer(clientID string) *kafka.Dialer {
	return &kafka.Dialer{ClientID: clientID, DialFunc: dialRecording, Timeout: 10 * time.Second}
}

func kafkaGoErr(err error) *KErr {
	if err == nil {
		return nil
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		return &KErr{Code: int16(ke), Msg: err.Error()}
	}
	return &KErr{Code: -1, Msg: err.Error()}
}

func kafkaGoCodec(name string) kafka.Compression {
	switch name {
	case "none", "":
		return 0
	case "gzip":
		return kafka.Gzip
	case "snappy":
		return kafka.Snappy
	case "lz4":
		return kafka.Lz4
	case "zstd":
		return kafka.Zstd
	}
	fatalf("unknown codec %q", name)
	return 0
}

// writer: records with p >= 0 go there; the others are placed by kafka-go's Murmur2Balancer
// (the Java client's key partitioner; kafka-go's default is round robin, ignoring keys).
func (k *kafkaGo) writer(clientID, topic, codec string) *kafka.Writer {
	murmur := &kafka.Murmur2Balancer{}
	w := &kafka.Writer{
		Addr:         kafka.TCP(k.bootstrap),
		Topic:        topic,
		Compression:  kafkaGoCodec(codec),
		Transport:    k.transport(clientID),
		BatchTimeout: 5 * time.Millisecond,
		BatchSize:    1000,
		RequiredAcks: kafka.RequireAll,
		Balancer: kafka.BalancerFunc(func(m kafka.Message, partitions ...int) int {
			if p := m.WriterData.(wd).p; p >= 0 {
				return int(p)
			}
			return murmur.Balance(m, partitions...)
		}),
		ErrorLogger: kgLogger{prefix: "[kafka-go writer error] "},
	}
	if k.spec.Acks == "leader" {
		w.RequiredAcks = kafka.RequireOne
	}
	return w
}

// writeWith writes recs in one WriteMessages call; the Completion callback reports where each
// went (WriterData carries the record's index).
func (k *kafkaGo) writeWith(ctx context.Context, w *kafka.Writer, recs []Rec) []Ack {
	acks := make([]Ack, len(recs))
	for i := range acks {
		acks[i] = Ack{I: i, P: -1, O: -1}
	}
	var mu sync.Mutex
	w.Completion = func(msgs []kafka.Message, err error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			i := m.WriterData.(wd).i
			acks[i] = Ack{I: i, P: int32(m.Partition), O: m.Offset, Err: kafkaGoErr(err)}
		}
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		m := kafka.Message{Key: r.K, Value: r.V, WriterData: wd{i: i, p: r.P}}
		if r.K == nil {
			m.Key = nil
		}
		if r.V == nil {
			m.Value = nil
		}
		if r.TS != 0 {
			m.Time = fromMillis(r.TS)
		}
		for _, h := range r.H {
			m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		msgs[i] = m
	}
	err := w.WriteMessages(ctx, msgs...)
	if err != nil {
		logf("WriteMessages: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]Ack(nil), acks...)
}

type wd struct {
	i int
	p int32
}

func (k *kafkaGo) Create(ctx context.Context, spec *Spec, res result) {
	r, err := k.adminClient().CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: spec.Topic, NumPartitions: int(spec.Partitions), ReplicationFactor: 1}}})
	if err == nil {
		err = r.Errors[spec.Topic]
	}
	check(err, "CreateTopics "+spec.Topic)
}

func (k *kafkaGo) Produce(ctx context.Context, spec *Spec, res result) {
	chunks := []any{}
	for _, ch := range spec.Chunks {
		w := k.writer("kafkago-producer-"+ch.Codec, spec.Topic, ch.Codec)
		acks := k.writeWith(ctx, w, ch.Records)
		check(w.Close(), "writer close")
		chunks = append(chunks, map[string]any{"codec": ch.Codec, "acks": acks})
	}
	res["chunks"] = chunks
}

func fromKafkaGo(m kafka.Message) Rec {
	out := Rec{P: int32(m.Partition), O: m.Offset, K: m.Key, V: m.Value, TS: millis(m.Time), H: []Header{}}
	for _, h := range m.Headers {
		out.H = append(out.H, Header{Key: h.Key, Value: h.Value})
	}
	return out
}

func (k *kafkaGo) endOffsets(ctx context.Context, topic string) map[int32]int64 {
	cl := k.adminClient()
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	check(err, "Metadata")
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		fatalf("Metadata for %s: %+v", topic, md.Topics)
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range md.Topics[0].Partitions {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p.ID))
	}
	r, err := cl.ListOffsets(ctx, req)
	check(err, "ListOffsets")
	out := map[int32]int64{}
	for _, po := range r.Topics[topic] {
		check(po.Error, fmt.Sprintf("ListOffsets %s/%d", topic, po.Partition))
		out[int32(po.Partition)] = po.LastOffset
	}
	return out
}

func (k *kafkaGo) Consume(ctx context.Context, spec *Spec, res result) {
	ends := k.endOffsets(ctx, spec.Topic)
	res["end_offsets"] = ends
	recs := []Rec{}
	for p := int32(0); p < int32(len(ends)); p++ {
		if ends[p] == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{k.bootstrap}, Topic: spec.Topic, Partition: int(p),
			Dialer: k.dialer("kafkago-reader"), MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 500 * time.Millisecond,
			ErrorLogger: kgLogger{prefix: "[kafka-go reader error] "},
		})
		check(r.SetOffset(kafka.FirstOffset), "SetOffset")
		for next := int64(-1); next < ends[p]; {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				fatalf("partition %d: %v (next offset %d, end %d)", p, err, next, ends[p])
			}
			recs = append(recs, fromKafkaGo(m))
			next = m.Offset + 1
		}
		check(r.Close(), "reader close")
	}
	res["records"] = recs
}

// ---------------------------------------------------------------------------------------------
// group

type kafkaGoMember struct {
	name   string
	r      *kafka.Reader
	recs   recordsStore
	assign assignmentStore
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	last   map[int]kafka.Message // newest message read per partition
}

func (m *kafkaGoMember) Name() string        { return m.name }
func (m *kafkaGoMember) Assignment() []int32 { return m.assign.get() }
func (m *kafkaGoMember) Records() []Rec      { return m.recs.all() }

func (m *kafkaGoMember) Commit(ctx context.Context) error {
	m.mu.Lock()
	msgs := []kafka.Message{}
	for _, msg := range m.last {
		msgs = append(msgs, msg)
	}
	m.mu.Unlock()
	if len(msgs) == 0 {
		return nil
	}
	return m.r.CommitMessages(ctx, msgs...)
}

func (m *kafkaGoMember) Close() error {
	m.cancel()
	<-m.done
	return m.r.Close() // LeaveGroup
}

// subscribedPartitions reads the partitions out of the map the Reader logs on each new
// generation ("subscribed to topics and partitions: %+v", map[topicPartition]int64).
func subscribedPartitions(arg any) []int32 {
	v := reflect.ValueOf(arg)
	if v.Kind() != reflect.Map {
		return nil
	}
	out := []int32{}
	for _, key := range v.MapKeys() {
		if key.Kind() == reflect.Struct {
			if f := key.FieldByName("partition"); f.IsValid() {
				out = append(out, int32(f.Int()))
			}
		}
	}
	return sortedParts(out)
}

type kafkaGoGroup struct {
	k    *kafkaGo
	spec *Spec
	w    *kafka.Writer
	adm  *kafka.Client
}

func (g *kafkaGoGroup) Produce(ctx context.Context, recs []Rec) []Ack {
	return g.k.writeWith(ctx, g.w, recs)
}

func (g *kafkaGoGroup) EndOffsets(ctx context.Context) map[int32]int64 {
	return g.k.endOffsets(ctx, g.spec.Topic)
}

func (g *kafkaGoGroup) StartMember(ctx context.Context, name string) member {
	m := &kafkaGoMember{name: name, done: make(chan struct{}), last: map[int]kafka.Message{}}
	m.r = kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{g.k.bootstrap},
		GroupID:           g.spec.Group,
		GroupTopics:       []string{g.spec.Topic},
		Dialer:            g.k.dialer("kafkago-" + name),
		MinBytes:          1,
		MaxBytes:          10 << 20,
		MaxWait:           500 * time.Millisecond,
		HeartbeatInterval: 300 * time.Millisecond,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  200 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
		CommitInterval:    0, // CommitMessages is synchronous
		Logger: kgLogger{prefix: "[kafka-go " + name + "] ", on: func(format string, args ...any) {
			if strings.HasPrefix(format, "subscribed to topics and partitions") && len(args) == 1 {
				m.assign.replace(subscribedPartitions(args[0]))
			}
		}},
		ErrorLogger: kgLogger{prefix: "[kafka-go " + name + " error] "},
	})
	cctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for {
			msg, err := m.r.FetchMessage(cctx)
			if err != nil {
				if cctx.Err() == nil {
					logf("%s: FetchMessage: %v", name, err)
				}
				return
			}
			m.mu.Lock()
			if prev, ok := m.last[msg.Partition]; !ok || msg.Offset > prev.Offset {
				m.last[msg.Partition] = msg
			}
			m.mu.Unlock()
			m.recs.add(fromKafkaGo(msg))
		}
	}()
	return m
}

func (g *kafkaGoGroup) ListGroups(ctx context.Context) any {
	r, err := g.adm.ListGroups(ctx, &kafka.ListGroupsRequest{})
	if err == nil {
		err = r.Error
	}
	if err != nil {
		return map[string]any{"err": kafkaGoErr(err)}
	}
	out := []map[string]any{}
	for _, gr := range r.Groups {
		out = append(out, map[string]any{"group": gr.GroupID, "protocol_type": gr.ProtocolType})
	}
	return out
}

func (g *kafkaGoGroup) DescribeGroup(ctx context.Context) any {
	r, err := g.adm.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{g.spec.Group}})
	if err != nil {
		return map[string]any{"err": kafkaGoErr(err)}
	}
	if len(r.Groups) != 1 {
		return map[string]any{"err": &KErr{Code: -1, Msg: fmt.Sprintf("%d groups described", len(r.Groups))}}
	}
	d := r.Groups[0]
	members := []map[string]any{}
	for _, mb := range d.Members {
		parts := []int32{}
		for _, t := range mb.MemberAssignments.Topics {
			if t.Topic == g.spec.Topic {
				for _, p := range t.Partitions {
					parts = append(parts, int32(p))
				}
			}
		}
		members = append(members, map[string]any{"client_id": mb.ClientID, "member_id": mb.MemberID, "assignment": sortedParts(parts)})
	}
	// kafka-go's DescribeGroups response has no protocol type / protocol fields.
	return map[string]any{"state": d.GroupState, "members": members, "err": kafkaGoErr(d.Error)}
}

func (g *kafkaGoGroup) FetchOffsets(ctx context.Context) any {
	parts := []int{}
	for p := 0; p < int(g.spec.Partitions); p++ {
		parts = append(parts, p)
	}
	r, err := g.adm.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: g.spec.Group, Topics: map[string][]int{g.spec.Topic: parts}})
	if err == nil {
		err = r.Error
	}
	if err != nil {
		return map[string]any{"err": kafkaGoErr(err)}
	}
	out := map[string]any{}
	for _, p := range r.Topics[g.spec.Topic] {
		out[fmt.Sprint(p.Partition)] = map[string]any{"offset": p.CommittedOffset, "metadata": p.Metadata, "err": kafkaGoErr(p.Error)}
	}
	return map[string]any{"partitions": out}
}

func (k *kafkaGo) Group(ctx context.Context, spec *Spec, res result) {
	w := k.writer("kafkago-group-producer", spec.Topic, "none")
	defer w.Close()
	runGroup(ctx, spec, &kafkaGoGroup{k: k, spec: spec, w: w, adm: k.adminClient()}, res)
}

// ---------------------------------------------------------------------------------------------
// admin

func (k *kafkaGo) Admin(ctx context.Context, spec *Spec, res result) {
	cl := k.adminClient()
	st := &steps{}
	defer func() { res["steps"] = st.list }()
	t := spec.Topic

	create := func(name, topic string, parts int, configs map[string]string) {
		tc := kafka.TopicConfig{Topic: topic, NumPartitions: parts, ReplicationFactor: 1}
		for k, v := range configs {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
		r, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{tc}})
		if err == nil {
			err = r.Errors[topic]
		}
		st.add(name, nil, kafkaGoErr(err))
	}
	create("create", t, 3, map[string]string{"retention.ms": "3600000", "max.message.bytes": "200000", "cleanup.policy": "delete"})
	create("create_again", t, 3, nil)
	create("create_bad_name", "bad name!", 1, nil)
	create("create_bad_config", spec.Absent+"-cfg", 1, map[string]string{"cleanup.policy": "bogus"})

	// Listing and describing go through a new Client (and Transport) each time: a Transport
	// caches metadata, which would still show the partition count or topic of a moment ago.
	fresh := func() (*kafka.Client, func()) {
		c := k.adminClient()
		return c, c.Transport.(*kafka.Transport).CloseIdleConnections
	}
	list := func(name string) {
		cl, done := fresh()
		defer done()
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{})
		out := map[string]int{}
		if err == nil {
			for _, tp := range md.Topics {
				out[tp.Name] = len(tp.Partitions)
			}
		}
		st.add(name, out, kafkaGoErr(err))
	}
	describe := func(name, topic string) {
		cl, done := fresh()
		defer done()
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		parts := []map[string]any{}
		if err == nil && len(md.Topics) == 1 {
			err = md.Topics[0].Error
			for _, p := range md.Topics[0].Partitions {
				ids := func(bs []kafka.Broker) []int {
					out := []int{}
					for _, b := range bs {
						out = append(out, b.ID)
					}
					return out
				}
				parts = append(parts, map[string]any{"p": p.ID, "leader": p.Leader.ID, "replicas": ids(p.Replicas), "isr": ids(p.Isr), "err": kafkaGoErr(p.Error)})
			}
		}
		st.add(name, map[string]any{"partitions": parts}, kafkaGoErr(err))
	}
	list("list")
	describe("describe", t)
	describe("describe_absent", spec.Absent)

	describeConfigs := func(name, topic string) {
		r, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
			{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic}}})
		configs := map[string]any{}
		if err == nil && len(r.Resources) == 1 {
			err = r.Resources[0].Error
			for _, e := range r.Resources[0].ConfigEntries {
				configs[e.ConfigName] = map[string]any{"value": e.ConfigValue, "source": e.ConfigSource, "sensitive": e.IsSensitive, "read_only": e.ReadOnly, "default": e.IsDefault}
			}
		}
		st.add(name, configs, kafkaGoErr(err))
	}
	describeConfigs("configs", t)
	describeConfigs("configs_absent", spec.Absent)

	updParts := func(name, topic string, n int) {
		r, err := cl.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: int32(n)}}})
		if err == nil {
			err = r.Errors[topic]
		}
		st.add(name, nil, kafkaGoErr(err))
	}
	updParts("create_partitions", t, 5)
	describe("describe_after_partitions", t)
	updParts("create_partitions_fewer", t, 2)
	updParts("create_partitions_absent", spec.Absent, 4)

	recs := make([]Rec, 10)
	for i := range recs {
		recs[i] = Rec{P: 0, K: Bytes(fmt.Sprintf("k%d", i)), V: Bytes(fmt.Sprintf("v%d", i)), TS: spec.BaseTS + int64(i)*1000}
	}
	w := k.writer("kafkago-admin-producer", t, "none")
	st.add("produce", k.writeWith(ctx, w, recs), nil)
	check(w.Close(), "writer close")

	listOffsets := func(name string, mk func(p int) kafka.OffsetRequest) {
		req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
		for p := 0; p < 5; p++ {
			req.Topics[t] = append(req.Topics[t], mk(p))
		}
		r, err := cl.ListOffsets(ctx, req)
		out := map[string]any{}
		if err == nil {
			for _, po := range r.Topics[t] {
				e := map[string]any{"err": kafkaGoErr(po.Error)}
				switch {
				case len(po.Offsets) > 0:
					for o, ts := range po.Offsets {
						e["offset"], e["timestamp"] = o, millis(ts)
					}
				case po.LastOffset >= 0 && mk(0).Timestamp == kafka.LastOffset:
					e["offset"] = po.LastOffset
				default:
					e["offset"] = po.FirstOffset
				}
				out[fmt.Sprint(po.Partition)] = e
			}
		}
		st.add(name, out, kafkaGoErr(err))
	}
	listOffsets("offsets_earliest", kafka.FirstOffsetOf)
	listOffsets("offsets_latest", kafka.LastOffsetOf)
	listOffsets("offsets_ts", func(p int) kafka.OffsetRequest { return kafka.TimeOffsetOf(p, fromMillis(spec.BaseTS+3500)) })
	listOffsets("offsets_ts_future", func(p int) kafka.OffsetRequest { return kafka.TimeOffsetOf(p, fromMillis(spec.BaseTS+3_600_000)) })

	if dg, err := cl.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{spec.Absent}}); err != nil || len(dg.Groups) != 1 {
		st.add("describe_group_absent", nil, kafkaGoErr(err))
	} else {
		d := dg.Groups[0]
		st.add("describe_group_absent", map[string]any{"state": d.GroupState, "members": len(d.Members), "err": kafkaGoErr(d.Error)}, nil)
	}

	del := func(name, topic string) {
		r, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
		if err == nil {
			err = r.Errors[topic]
		}
		st.add(name, nil, kafkaGoErr(err))
	}
	del("delete", t)
	del("delete_again", t)
	list("list_after_delete")
}
