// gocompat drives the Go Kafka clients (franz-go kgo/kadm, IBM/sarama, segmentio/kafka-go)
// against a broker for the compat suite (compat-tests/python/test_go.py).
//
//	gocompat <client> <scenario> <bootstrap> < spec.json > result.json
//
// client: franz | sarama | kafkago; scenario: create (a topic) | produce | consume | group | admin.
// The spec (stdin) and the result (stdout) are one JSON object each; the client's own debug log
// goes to stderr. The program makes client calls and reports what the client returned; every
// assertion is made on the Python side. Bytes travel as hex strings, null as null.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ---------------------------------------------------------------------------------------------
// JSON shapes

// Bytes is a []byte that is a hex string in JSON; nil is null (and stays distinct from empty).
type Bytes []byte

func (b Bytes) MarshalJSON() ([]byte, error) {
	if b == nil {
		return []byte("null"), nil
	}
	return json.Marshal(hex.EncodeToString(b))
}

func (b *Bytes) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*b = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*b = Bytes(v)
	if *b == nil {
		*b = Bytes{}
	}
	return nil
}

// Header is [key, value] in JSON: a header's key is a string, its value nullable bytes.
type Header struct {
	Key   string
	Value Bytes
}

func (h Header) MarshalJSON() ([]byte, error) { return json.Marshal([]any{h.Key, h.Value}) }

func (h *Header) UnmarshalJSON(data []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(data, &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return fmt.Errorf("header must be [key, value], got %s", data)
	}
	if err := json.Unmarshal(pair[0], &h.Key); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &h.Value)
}

// Rec is a record to produce (P >= 0 picks the partition, -1 leaves it to the client's
// partitioner) or a record read back (P and O set).
type Rec struct {
	P  int32    `json:"p"`
	O  int64    `json:"o"`
	K  Bytes    `json:"k"`
	V  Bytes    `json:"v"`
	H  []Header `json:"h"`
	TS int64    `json:"ts"`
}

// Ack is where the client says a produced record went (record i of the batch).
type Ack struct {
	I   int   `json:"i"`
	P   int32 `json:"p"`
	O   int64 `json:"o"`
	Err *KErr `json:"err,omitempty"`
}

// KErr is a Kafka error as a client reported it: the protocol code when the client exposes it.
type KErr struct {
	Code int16  `json:"code"`
	Msg  string `json:"msg"`
}

// Spec is everything any scenario reads; each uses the fields it needs.
type Spec struct {
	Topic      string `json:"topic"`
	Partitions int32  `json:"partitions"`
	Group      string `json:"group"`
	// produce: one producer per chunk, each with its codec.
	Chunks []Chunk `json:"chunks"`
	// producer settings
	Idempotent bool   `json:"idempotent"`
	Acks       string `json:"acks"` // "all" (default) | "leader"
	// sarama's configured Kafka version (sarama.ParseKafkaVersion syntax), "" for the newest.
	Version string `json:"version"`
	// group: records produced in each phase.
	Batches [][]Rec `json:"batches"`
	// franz-go group: opt into KIP-848 (it must still fall back to the classic protocol).
	ServerSideBalancer bool `json:"server_side_balancer"`
	// admin
	Absent  string `json:"absent"`
	BaseTS  int64  `json:"base_ts"`
	Debug   bool   `json:"debug"`
	Timeout int    `json:"timeout_s"`
	// security (franz only): SASL credentials, a CA file to dial TLS with, and a client
	// certificate and key (PEM files) to present when the broker asks for one.
	SASL    *SASLSpec `json:"sasl"`
	TLSCA   string    `json:"tls_ca"`
	TLSCert string    `json:"tls_cert"`
	TLSKey  string    `json:"tls_key"`
}

// SASLSpec: mechanism PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (user and password), or
// OAUTHBEARER (token: the JWT as the test made it, sent as is).
type SASLSpec struct {
	Mechanism string `json:"mechanism"`
	User      string `json:"user"`
	Password  string `json:"password"`
	Token     string `json:"token"`
}

type Chunk struct {
	Codec   string `json:"codec"`
	Records []Rec  `json:"records"`
}

// ---------------------------------------------------------------------------------------------
// Recording the requests each client sends: every connection goes through a net.Conn wrapper
// that reads the request header (length, api key, api version) off the bytes written.

type reqRecorder struct {
	mu   sync.Mutex
	seen map[int16]map[int16]int
}

var recorder = &reqRecorder{seen: map[int16]map[int16]int{}}

func (r *reqRecorder) add(key, version int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[key] == nil {
		r.seen[key] = map[int16]int{}
	}
	r.seen[key][version]++
}

// Snapshot: API name -> sorted versions sent.
func (r *reqRecorder) Snapshot() map[string][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]int{}
	for key, versions := range r.seen {
		name := kmsg.NameForKey(key)
		if name == "Unknown" || name == "" {
			name = fmt.Sprintf("key%d", key)
		}
		for v := range versions {
			out[name] = append(out[name], int(v))
		}
		sort.Ints(out[name])
	}
	return out
}

type recConn struct {
	net.Conn
	mu      sync.Mutex
	pending []byte // bytes of a request header not complete yet
	skip    int64  // body bytes of the current request still to pass
}

func (c *recConn) Write(p []byte) (int, error) {
	c.observe(p)
	return c.Conn.Write(p)
}

func (c *recConn) observe(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(p) > 0 {
		if c.skip > 0 {
			n := int64(len(p))
			if n > c.skip {
				n = c.skip
			}
			c.skip -= n
			p = p[n:]
			continue
		}
		need := 8 - len(c.pending)
		if need > len(p) {
			c.pending = append(c.pending, p...)
			return
		}
		c.pending = append(c.pending, p[:need]...)
		p = p[need:]
		h := c.pending
		size := int64(int32(uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3])))
		key := int16(uint16(h[4])<<8 | uint16(h[5]))
		version := int16(uint16(h[6])<<8 | uint16(h[7]))
		recorder.add(key, version)
		c.pending = c.pending[:0]
		c.skip = size - 4
	}
}

func dialRecording(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &recConn{Conn: conn}, nil
}

// ---------------------------------------------------------------------------------------------
// helpers

// result is the scenario's output object; fatal carries the first unexpected error.
type result map[string]any

type fatalErr struct{ msg string }

func fatalf(format string, args ...any) { panic(fatalErr{fmt.Sprintf(format, args...)}) }

func check(err error, what string) {
	if err != nil {
		fatalf("%s: %v", what, err)
	}
}

// waitFor polls cond; the timeout only stops a hang, it never decides an outcome on its own
// (the caller reports what was seen and Python judges).
func waitFor(what string, timeout time.Duration, cond func() bool) {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms) }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gocompat: "+format+"\n", args...)
}

// Client is one client library's implementation of the scenarios.
type Client interface {
	Create(ctx context.Context, spec *Spec, res result)
	Produce(ctx context.Context, spec *Spec, res result)
	Consume(ctx context.Context, spec *Spec, res result)
	Group(ctx context.Context, spec *Spec, res result)
	Admin(ctx context.Context, spec *Spec, res result)
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: gocompat <franz|sarama|kafkago> <create|produce|consume|group|admin> <bootstrap> < spec.json")
		os.Exit(2)
	}
	clientName, scenario, bootstrap := os.Args[1], os.Args[2], os.Args[3]
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	spec := &Spec{}
	if len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, spec); err != nil {
			fmt.Fprintln(os.Stderr, "bad spec:", err)
			os.Exit(2)
		}
	}
	if spec.Timeout == 0 {
		spec.Timeout = 40
	}
	var c Client
	switch clientName {
	case "franz":
		c = newFranz(bootstrap, spec)
	case "sarama":
		c = newSarama(bootstrap, spec)
	case "kafkago":
		c = newKafkaGo(bootstrap, spec)
	default:
		fmt.Fprintln(os.Stderr, "unknown client", clientName)
		os.Exit(2)
	}
	var run func(context.Context, *Spec, result)
	switch scenario {
	case "create":
		run = c.Create
	case "produce":
		run = c.Produce
	case "consume":
		run = c.Consume
	case "group":
		run = c.Group
	case "admin":
		run = c.Admin
	default:
		fmt.Fprintln(os.Stderr, "unknown scenario", scenario)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(spec.Timeout)*time.Second)
	defer cancel()
	res := result{}
	status := 0
	func() {
		defer func() {
			if r := recover(); r != nil {
				if f, ok := r.(fatalErr); ok {
					res["fatal"] = f.msg
				} else {
					res["fatal"] = fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
				}
				status = 1
			}
		}()
		run(ctx, spec, res)
	}()
	res["requests"] = recorder.Snapshot()
	out, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintln(os.Stderr, "encoding result:", err)
		os.Exit(3)
	}
	os.Stdout.Write(out)
	os.Stdout.Write([]byte("\n"))
	os.Exit(status)
}

// ---------------------------------------------------------------------------------------------
// The group scenario, shared by the three clients.
//
// Phases (Python checks every one of them from the result):
//   solo:    member m1 joins alone, batch 0 is produced, m1 reads all of it and commits.
//   pair:    m2 joins; once the two hold disjoint, non-empty assignments covering every
//            partition, batch 1 is produced; each reads its own partitions' share and commits.
//            The group is described and its offsets fetched through the client's admin API;
//            then both members close (LeaveGroup).
//   restart: batch 2 is produced while nobody is in the group; m3 joins and must resume at the
//            committed offsets: exactly batch 2, nothing older, nothing missing. It commits.
//   rejoin:  m4 joins m3; once they split the partitions, batch 3 is produced and split.
// Each phase ends when, for every partition, the members have read up to the end offset the
// client listed after producing; anything delivered twice or from before the committed offsets
// shows up in the records reported.

type member interface {
	Name() string
	// Assignment is the member's current partitions of the topic (nil before the first).
	Assignment() []int32
	Records() []Rec
	Commit(ctx context.Context) error
	Close() error
}

type groupOps interface {
	Produce(ctx context.Context, recs []Rec) []Ack
	EndOffsets(ctx context.Context) map[int32]int64
	StartMember(ctx context.Context, name string) member
	ListGroups(ctx context.Context) any
	DescribeGroup(ctx context.Context) any
	FetchOffsets(ctx context.Context) any
}

type memberReport struct {
	Assignments [][]int32 `json:"assignments"`
	Records     []Rec     `json:"records"`
}

func runGroup(ctx context.Context, spec *Spec, g groupOps, res result) {
	if len(spec.Batches) != 4 {
		fatalf("group needs 4 batches, got %d", len(spec.Batches))
	}
	timeout := time.Duration(spec.Timeout) * time.Second / 2
	phases := []map[string]any{}
	res["phases"] = &phases

	// Per member: every assignment it reported, sampled when it changes.
	assignLog := map[string]*[][]int32{}
	var assignMu sync.Mutex
	watch := func(m member) {
		assignMu.Lock()
		assignLog[m.Name()] = &[][]int32{}
		assignMu.Unlock()
		go func() {
			var last []int32
			first := true
			for ctx.Err() == nil {
				a := m.Assignment()
				if a != nil && (first || !equalParts(a, last)) {
					assignMu.Lock()
					*assignLog[m.Name()] = append(*assignLog[m.Name()], a)
					assignMu.Unlock()
					last, first = a, false
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}

	all := make([]int32, spec.Partitions)
	for i := range all {
		all[i] = int32(i)
	}

	type phaseRun struct {
		name    string
		members []member
		starts  map[string]int
	}
	begin := func(name string, ms ...member) *phaseRun {
		pr := &phaseRun{name: name, members: ms, starts: map[string]int{}}
		for _, m := range ms {
			pr.starts[m.Name()] = len(m.Records())
		}
		return pr
	}
	// readUpTo waits until, for every partition, some member of the phase has read the record
	// just below the end offset (or the partition has nothing new).
	readUpTo := func(pr *phaseRun, before, after map[int32]int64) {
		waitFor(fmt.Sprintf("%s: members to read up to end offsets %v", pr.name, after), timeout, func() bool {
			seen := map[int32]int64{}
			for _, m := range pr.members {
				for _, r := range m.Records()[pr.starts[m.Name()]:] {
					if r.O+1 > seen[r.P] {
						seen[r.P] = r.O + 1
					}
				}
			}
			for p, end := range after {
				if end > before[p] && seen[p] < end {
					return false
				}
			}
			return true
		})
	}
	finish := func(pr *phaseRun, extra map[string]any) {
		out := map[string]any{"name": pr.name}
		reports := map[string]memberReport{}
		assignMu.Lock()
		for _, m := range pr.members {
			rs := m.Records()[pr.starts[m.Name()]:]
			if rs == nil {
				rs = []Rec{}
			}
			reports[m.Name()] = memberReport{Assignments: append([][]int32{}, *assignLog[m.Name()]...), Records: rs}
		}
		assignMu.Unlock()
		out["members"] = reports
		for k, v := range extra {
			out[k] = v
		}
		phases = append(phases, out)
	}
	split := func(what string, ms ...member) {
		waitFor(what, timeout, func() bool {
			seen := map[int32]int{}
			for _, m := range ms {
				a := m.Assignment()
				if len(a) == 0 {
					return false
				}
				for _, p := range a {
					seen[p]++
				}
			}
			if len(seen) != len(all) {
				return false
			}
			for _, n := range seen {
				if n != 1 {
					return false
				}
			}
			return true
		})
	}
	commit := func(ms ...member) {
		for _, m := range ms {
			check(m.Commit(ctx), m.Name()+" commit")
		}
	}

	e0 := g.EndOffsets(ctx)

	// solo
	m1 := g.StartMember(ctx, "m1")
	watch(m1)
	waitFor("m1 to be assigned every partition", timeout, func() bool { return len(m1.Assignment()) == len(all) })
	pr := begin("solo", m1)
	acks0 := g.Produce(ctx, spec.Batches[0])
	e1 := g.EndOffsets(ctx)
	readUpTo(pr, e0, e1)
	commit(m1)
	finish(pr, map[string]any{"acks": acks0, "end_before": e0, "end_after": e1})

	// pair
	m2 := g.StartMember(ctx, "m2")
	watch(m2)
	split("m1 and m2 to split the partitions", m1, m2)
	pr = begin("pair", m1, m2)
	acks1 := g.Produce(ctx, spec.Batches[1])
	e2 := g.EndOffsets(ctx)
	readUpTo(pr, e1, e2)
	commit(m1, m2)
	admin := map[string]any{
		"list":     g.ListGroups(ctx),
		"describe": g.DescribeGroup(ctx),
		"offsets":  g.FetchOffsets(ctx),
	}
	finish(pr, map[string]any{"acks": acks1, "end_before": e1, "end_after": e2, "admin": admin})
	closeAll(m1, m2)

	// restart
	acks2 := g.Produce(ctx, spec.Batches[2])
	e3 := g.EndOffsets(ctx)
	closed := map[string]any{"describe": g.DescribeGroup(ctx), "offsets": g.FetchOffsets(ctx)}
	m3 := g.StartMember(ctx, "m3")
	watch(m3)
	pr = begin("restart", m3)
	waitFor("m3 to be assigned every partition", timeout, func() bool { return len(m3.Assignment()) == len(all) })
	readUpTo(pr, e2, e3)
	commit(m3)
	finish(pr, map[string]any{"acks": acks2, "end_before": e2, "end_after": e3, "admin": closed})

	// rejoin
	m4 := g.StartMember(ctx, "m4")
	watch(m4)
	split("m3 and m4 to split the partitions", m3, m4)
	pr = begin("rejoin", m3, m4)
	acks3 := g.Produce(ctx, spec.Batches[3])
	e4 := g.EndOffsets(ctx)
	readUpTo(pr, e3, e4)
	commit(m3, m4)
	final := map[string]any{"describe": g.DescribeGroup(ctx), "offsets": g.FetchOffsets(ctx)}
	finish(pr, map[string]any{"acks": acks3, "end_before": e3, "end_after": e4, "admin": final})
	closeAll(m3, m4)
	res["after_close"] = map[string]any{"describe": g.DescribeGroup(ctx), "offsets": g.FetchOffsets(ctx)}
}

// closeAll closes members concurrently (each Close leaves the group), like services stopping.
func closeAll(ms ...member) {
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.Close()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		check(err, ms[i].Name()+" close")
	}
}

func equalParts(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sortedParts(ps []int32) []int32 {
	out := append([]int32{}, ps...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// recordsStore is a goroutine-safe list of records a member read.
type recordsStore struct {
	mu   sync.Mutex
	recs []Rec
}

func (s *recordsStore) add(r Rec) {
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
}

func (s *recordsStore) all() []Rec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rec(nil), s.recs...)
}

// assignmentStore holds a member's current partitions.
type assignmentStore struct {
	mu    sync.Mutex
	set   map[int32]bool
	known bool
}

func (a *assignmentStore) replace(ps []int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.set = map[int32]bool{}
	for _, p := range ps {
		a.set[p] = true
	}
	a.known = true
}

func (a *assignmentStore) add(ps []int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.set == nil {
		a.set = map[int32]bool{}
	}
	for _, p := range ps {
		a.set[p] = true
	}
	a.known = true
}

func (a *assignmentStore) remove(ps []int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range ps {
		delete(a.set, p)
	}
}

func (a *assignmentStore) get() []int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.known {
		return nil
	}
	out := []int32{}
	for p := range a.set {
		out = append(out, p)
	}
	return sortedParts(out)
}
