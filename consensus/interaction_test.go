package consensus

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
)

// Scripted scenarios, in the manner of etcd raft's interaction tests: each
// consensus/testdata/*.txt is a list of commands, each followed by "----"
// and the output it must produce, then a blank line. The environment plays
// the driver for every honest node (persist, send, schedule, validate) and
// the network holds every message until a command delivers, drops or delays
// it, so a scenario controls exactly who hears what and when. Timeouts fire
// only when a command fires them. Lines starting with # are comments.
//
// Commands (nodes are n0, n1, ... in validator-set order; blocks are names;
// filters are from=, to=, type=proposal|prevote|precommit, round=, each a
// comma-separated list):
//
//	init [powers=1,1,1,1] [height=1] [byz=n3]  new network (powers in n0, n1, ... order); byz nodes are scripted
//	propose n1 block=A                         answer "build block" with block A
//	invalid A [on=n0,n2]                       A fails validation (everywhere, or there)
//	deliver|drop|delay [filter]                act on the messages in flight
//	release [filter]                           put delayed messages back in flight
//	stabilize                                  deliver until nothing is in flight
//	pending                                    list the messages in flight and held
//	timeout n0,n1 propose|prevote|precommit [round=r]  fire a scheduled timer
//	byz n3 proposal|prevote|precommit round=r block=A|nil [pol=r] [to=...]
//	crash n1                                   lose the machine, timers and inbound messages
//	restart n1 [wal=lost] [lastsigned=lost]    rebuild from what survived (Replay)
//	rebroadcast n1                             send Machine.Rebroadcast() ("relay" marks others' votes)
//	status [n0 ...]                            round, step, lock, valid value, decision
//
// The output lists what the nodes do in answer (send, timer, build block,
// decide, evidence, refused signatures) and "!!" lines when a property
// breaks: two decisions, an honest node signing two messages for one step,
// a decision whose commit does not verify.
//
// After changing the machine or a scenario, regenerate the expected output
// with `go test ./consensus -run Interaction -rewrite` and read the diff:
// the output is the assertion.

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of consensus/testdata/*.txt")

func TestInteraction(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScript(t, f) })
	}
}

// ---- the script format ----

// ddChunk is either verbatim text (comments, blank lines) or one command
// with its expected output.
type ddChunk struct {
	text string // verbatim, when cmd is empty
	line int    // line number of the command
	cmd  string
	want string
	got  string
}

func parseScript(path string) ([]*ddChunk, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read script: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	var out []*ddChunk
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			out = append(out, &ddChunk{text: l + "\n"})
			continue
		}
		c := &ddChunk{line: i + 1, cmd: strings.TrimSpace(l)}
		if i+1 >= len(lines) || lines[i+1] != "----" {
			return nil, fmt.Errorf("%s:%d: command %q is not followed by ----", path, i+1, c.cmd)
		}
		i += 2
		var want strings.Builder
		for ; i < len(lines) && lines[i] != ""; i++ {
			want.WriteString(lines[i] + "\n")
		}
		c.want = want.String()
		out = append(out, c)
	}
	return out, nil
}

func formatScript(chunks []*ddChunk) string {
	var b strings.Builder
	for _, c := range chunks {
		if c.cmd == "" {
			b.WriteString(c.text)
			continue
		}
		b.WriteString(c.cmd + "\n----\n" + c.got + "\n")
	}
	return b.String()
}

func runScript(t *testing.T, path string) {
	chunks, err := parseScript(path)
	if err != nil {
		t.Fatal(err)
	}
	var env *ienv
	for _, c := range chunks {
		if c.cmd == "" {
			continue
		}
		args := parseArgs(c.cmd)
		if args.name == "init" {
			env = newIEnv(t)
		} else if env == nil {
			t.Fatalf("%s:%d: the first command must be init", path, c.line)
		}
		env.out.Reset()
		if err := env.exec(args); err != nil {
			fmt.Fprintf(&env.out, "error: %v\n", err)
		}
		c.got = env.out.String()
		if !*rewrite && c.got != c.want {
			t.Errorf("%s:%d: %s\n--- want\n%s--- got\n%s", path, c.line, c.cmd, c.want, c.got)
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(formatScript(chunks)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ddArgs is one command line: a name, positional words and key=value pairs.
type ddArgs struct {
	name string
	pos  []string
	kv   map[string]string
}

func parseArgs(line string) ddArgs {
	f := strings.Fields(line)
	a := ddArgs{name: f[0], kv: map[string]string{}}
	for _, w := range f[1:] {
		if k, v, ok := strings.Cut(w, "="); ok {
			a.kv[k] = v
		} else {
			a.pos = append(a.pos, w)
		}
	}
	return a
}

// ---- the environment ----

type inode struct {
	name  string
	byz   bool // scripted: no machine, signs whatever the script says
	m     *Machine
	wal   [][]byte // this height's records, as a driver persists them
	last  *LastSigned
	timer []ScheduleTimeout // scheduled, not yet fired
	seen  int               // refusals already reported
}

type envelope struct {
	from, to int
	msg      Message
}

type ienv struct {
	t       *testing.T
	c       *chain.Codec
	tv      testVals
	height  uint64
	nodes   []*inode
	pending []envelope // in flight, in send order
	held    []envelope // delayed until released
	names   map[chain.ID]string
	invalid map[chain.ID][]bool // per node: the block fails its checks there
	decided map[chain.ID][]string
	signed  map[string]string // honest node/round/step -> sign bytes
	out     strings.Builder
}

func newIEnv(t *testing.T) *ienv {
	return &ienv{t: t, c: chain.MustCodec(), names: map[chain.ID]string{}, invalid: map[chain.ID][]bool{},
		decided: map[chain.ID][]string{}, signed: map[string]string{}}
}

func (e *ienv) printf(format string, args ...any) { fmt.Fprintf(&e.out, format, args...) }

func (e *ienv) exec(a ddArgs) error {
	switch a.name {
	case "init":
		return e.cmdInit(a)
	case "propose":
		return e.cmdPropose(a)
	case "deliver", "drop", "delay", "release":
		return e.cmdNet(a)
	case "stabilize":
		return e.cmdStabilize()
	case "pending":
		e.cmdPending()
		return nil
	case "timeout":
		return e.cmdTimeout(a)
	case "byz":
		return e.cmdByz(a)
	case "invalid":
		return e.cmdInvalid(a)
	case "crash":
		return e.cmdCrash(a)
	case "restart":
		return e.cmdRestart(a)
	case "rebroadcast":
		return e.cmdRebroadcast(a)
	case "status":
		return e.cmdStatus(a)
	}
	return fmt.Errorf("unknown command %q", a.name)
}

// block returns the ID of a named block ("nil" is the nil vote).
func (e *ienv) block(name string) chain.ID {
	if name == "nil" {
		return ""
	}
	id := blockID(name)
	e.names[id] = name
	return id
}

func (e *ienv) blockName(id chain.ID) string {
	if id.IsZero() {
		return "nil"
	}
	if n, ok := e.names[id]; ok {
		return n
	}
	return "?" + id.String()
}

func (e *ienv) nodeIdx(name string) (int, error) {
	for i, n := range e.nodes {
		if n.name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no node %q", name)
}

// nodeList parses "n0,n2" or "all"; empty means def.
func (e *ienv) nodeList(s string, def []int) ([]int, error) {
	if s == "" {
		return def, nil
	}
	if s == "all" {
		return e.all(), nil
	}
	var out []int
	for _, n := range strings.Split(s, ",") {
		i, err := e.nodeIdx(n)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, nil
}

func (e *ienv) all() []int {
	out := make([]int, len(e.nodes))
	for i := range out {
		out[i] = i
	}
	return out
}

// targets parses the positional node names of a command.
func (e *ienv) targets(a ddArgs) ([]int, error) {
	if len(a.pos) == 0 {
		return nil, fmt.Errorf("%s: name the nodes", a.name)
	}
	return e.nodeList(strings.Join(a.pos, ","), nil)
}

func (e *ienv) cmdInit(a ddArgs) error {
	powers := []uint64{1, 1, 1, 1}
	if p := a.kv["powers"]; p != "" {
		powers = nil
		for _, s := range strings.Split(p, ",") {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return fmt.Errorf("powers: %w", err)
			}
			powers = append(powers, n)
		}
	}
	e.height = 1
	if h := a.kv["height"]; h != "" {
		n, err := strconv.ParseUint(h, 10, 64)
		if err != nil {
			return fmt.Errorf("height: %w", err)
		}
		e.height = n
	}
	e.tv = makeValsInOrder(e.t, powers...)
	for i := range powers {
		e.nodes = append(e.nodes, &inode{name: fmt.Sprintf("n%d", i)})
	}
	if a.kv["powers"] != "" {
		var ps []string
		for i, v := range e.tv.set.Validators {
			ps = append(ps, fmt.Sprintf("%s=%d", e.nodes[i].name, v.Power))
		}
		e.printf("powers: %s quorum=%d\n", strings.Join(ps, " "), e.tv.set.QuorumPower())
	}
	byz, err := e.nodeList(a.kv["byz"], nil)
	if err != nil {
		return err
	}
	for _, i := range byz {
		e.nodes[i].byz = true
	}
	sched := NewProposerSchedule(e.tv.set)
	var prop []string
	for r := uint32(0); r < 4; r++ {
		_, i, _ := e.tv.set.ByAddress(sched.Proposer(e.height, r))
		prop = append(prop, fmt.Sprintf("r%d=%s", r, e.nodes[i].name))
	}
	e.printf("proposers: %s\n", strings.Join(prop, " "))
	for i, n := range e.nodes {
		if n.byz {
			continue
		}
		if err := e.startNode(i, false); err != nil {
			return err
		}
	}
	e.drainAll()
	return nil
}

// makeValsInOrder is makeVals with powers given in validator-set order
// (sorted by address), so that powers=40,30,30 makes n0 the 40.
func makeValsInOrder(t testing.TB, powers ...uint64) testVals {
	t.Helper()
	keys := makeVals(t, slices.Repeat([]uint64{1}, len(powers))...).keys
	vals := make([]chain.Validator, len(keys))
	for i, k := range keys {
		vals[i] = chain.Validator{Address: k.PubKey().Address(), PubKey: k.PubKey(), Power: powers[i]}
	}
	vs, err := chain.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	return testVals{set: vs, keys: keys}
}

// startNode builds node i's machine from its durable state: Replay when
// the WAL has records for the height, Start otherwise.
func (e *ienv) startNode(i int, replay bool) error {
	n := e.nodes[i]
	var ls LastSigned
	if n.last != nil {
		ls = *n.last
	}
	m := newTestMachine(e.t, e.tv, i, e.height, ls)
	if replay && len(n.wal) > 0 {
		if err := m.Replay(n.wal); err != nil {
			return fmt.Errorf("%s: replay: %w", n.name, err)
		}
	} else if err := m.Start(); err != nil {
		return fmt.Errorf("%s: start: %w", n.name, err)
	}
	n.m = m
	n.seen = 0
	return nil
}

// drainAll handles every node's Ready until none has anything, the way the
// node's driver must: persist first, then send, schedule, validate, commit.
func (e *ienv) drainAll() {
	for busy := true; busy; {
		busy = false
		for i := range e.nodes {
			if e.drain(i) {
				busy = true
			}
		}
	}
}

func (e *ienv) drain(i int) bool {
	n := e.nodes[i]
	did := false
	for n.m != nil && n.m.HasReady() {
		did = true
		rd := n.m.Ready()
		for _, r := range rd.WAL {
			n.wal = append(n.wal, slices.Clone(r.Data))
		}
		if rd.LastSigned != nil {
			ls := *rd.LastSigned
			n.last = &ls
		}
		n.m.Advance()
		for _, msg := range rd.Messages {
			e.printSend(i, msg)
			e.checkDoubleSign(i, msg)
			e.broadcast(i, msg)
		}
		for _, to := range rd.Timeouts {
			e.printf("%s: timer %s r%d\n", n.name, to.Step, to.Round)
			n.timer = append(n.timer, to)
		}
		for _, rq := range rd.Requests {
			e.printf("%s: build block for r%d\n", n.name, rq.Round)
		}
		for _, v := range rd.Validate {
			valid := e.invalid[v.BlockID] == nil || !e.invalid[v.BlockID][i]
			if !valid {
				e.printf("%s: block %s is invalid\n", n.name, e.blockName(v.BlockID))
			}
			if err := n.m.Step(BlockValidatedEvent{BlockID: v.BlockID, Valid: valid}); err != nil {
				e.printf("%s: validated: %v\n", n.name, err)
			}
		}
		for _, d := range rd.Decisions {
			e.onDecision(i, d)
		}
		for _, ev := range rd.Evidence {
			_, j, _ := e.tv.set.ByAddress(ev.VoteA.Validator)
			e.printf("%s: evidence against %s: %s r%d %s/%s\n", n.name, e.nodes[j].name, ev.VoteA.Type,
				ev.VoteA.Round, e.blockName(ev.VoteA.BlockID), e.blockName(ev.VoteB.BlockID))
		}
	}
	if n.m != nil && n.m.Refused() > n.seen {
		e.printf("%s: guard refused %d signature(s)\n", n.name, n.m.Refused()-n.seen)
		n.seen = n.m.Refused()
	}
	return did
}

func (e *ienv) onDecision(i int, d Decision) {
	n := e.nodes[i]
	e.printf("%s: decide %s r%d\n", n.name, e.blockName(d.BlockID), d.Round)
	if err := chain.VerifyCommit(e.c, testChain, e.tv.set, d.Commit, d.Height, d.BlockID); err != nil {
		e.printf("!! %s: the decision's commit does not verify: %v\n", n.name, err)
	}
	if !slices.Contains(e.decided[d.BlockID], n.name) {
		e.decided[d.BlockID] = append(e.decided[d.BlockID], n.name)
	}
	if len(e.decided) > 1 {
		var parts []string
		for id, who := range e.decided {
			parts = append(parts, fmt.Sprintf("%s by %s", e.blockName(id), strings.Join(who, ",")))
		}
		slices.Sort(parts)
		e.printf("!! agreement violated: %s\n", strings.Join(parts, "; "))
	}
}

// printSend prints a message node i sends: "send" for its own, "relay ...
// of nX" for another validator's vote it passes on with that signature.
func (e *ienv) printSend(i int, msg Message) {
	if v := msg.Vote; v != nil && v.Validator != e.tv.set.Validators[i].Address {
		_, j, _ := e.tv.set.ByAddress(v.Validator)
		e.printf("%s: relay %s of %s\n", e.nodes[i].name, e.msgString(msg), e.nodes[j].name)
		return
	}
	e.printf("%s: send %s\n", e.nodes[i].name, e.msgString(msg))
}

// checkDoubleSign flags an honest node sending two different messages for
// one (round, step): the guard exists so that this never prints.
func (e *ienv) checkDoubleSign(i int, msg Message) {
	var key string
	if v := msg.Vote; v != nil {
		if v.Validator != e.tv.set.Validators[i].Address {
			return // a relayed vote: its signer is checked when it sends its own
		}
		key = fmt.Sprintf("%d/%d/%s", i, v.Round, v.Type)
	} else {
		key = fmt.Sprintf("%d/%d/proposal", i, msg.Proposal.Round)
	}
	sb := string(signBytesOf(e.c, testChain, msg))
	if prev, ok := e.signed[key]; ok && prev != sb {
		e.printf("!! %s double-signed: %s\n", e.nodes[i].name, e.msgString(msg))
	}
	e.signed[key] = sb
}

func (e *ienv) broadcast(from int, msg Message) {
	for j, to := range e.nodes {
		if j != from && !to.byz && to.m != nil {
			e.pending = append(e.pending, envelope{from: from, to: j, msg: msg})
		}
	}
}

func (e *ienv) msgString(msg Message) string {
	if p := msg.Proposal; p != nil {
		s := fmt.Sprintf("proposal r%d %s", p.Round, e.blockName(p.BlockID))
		if p.POLRound >= 0 {
			s += fmt.Sprintf(" pol=%d", p.POLRound)
		}
		return s
	}
	v := msg.Vote
	return fmt.Sprintf("%s r%d %s", v.Type, v.Round, e.blockName(v.BlockID))
}

func msgKind(msg Message) string {
	if msg.Proposal != nil {
		return "proposal"
	}
	return msg.Vote.Type.String()
}

func msgRound(msg Message) uint32 {
	if msg.Proposal != nil {
		return msg.Proposal.Round
	}
	return msg.Vote.Round
}

// filter matches envelopes by from=, to=, type= and round= (each a
// comma-separated list; absent matches everything).
type filter struct {
	from, to map[int]bool
	kind     map[string]bool
	round    map[uint32]bool
}

func (e *ienv) parseFilter(a ddArgs) (filter, error) {
	var f filter
	set := func(key string) (map[int]bool, error) {
		if a.kv[key] == "" {
			return nil, nil
		}
		l, err := e.nodeList(a.kv[key], nil)
		if err != nil {
			return nil, err
		}
		m := map[int]bool{}
		for _, i := range l {
			m[i] = true
		}
		return m, nil
	}
	var err error
	if f.from, err = set("from"); err != nil {
		return f, err
	}
	if f.to, err = set("to"); err != nil {
		return f, err
	}
	if s := a.kv["type"]; s != "" {
		f.kind = map[string]bool{}
		for _, k := range strings.Split(s, ",") {
			if k != "proposal" && k != "prevote" && k != "precommit" {
				return f, fmt.Errorf("type %q: want proposal, prevote or precommit", k)
			}
			f.kind[k] = true
		}
	}
	if s := a.kv["round"]; s != "" {
		f.round = map[uint32]bool{}
		for _, r := range strings.Split(s, ",") {
			n, err := strconv.ParseUint(r, 10, 32)
			if err != nil {
				return f, fmt.Errorf("round: %w", err)
			}
			f.round[uint32(n)] = true
		}
	}
	for k := range a.kv {
		if k != "from" && k != "to" && k != "type" && k != "round" {
			return f, fmt.Errorf("unknown filter %q", k)
		}
	}
	return f, nil
}

func (f filter) match(env envelope) bool {
	return (f.from == nil || f.from[env.from]) && (f.to == nil || f.to[env.to]) &&
		(f.kind == nil || f.kind[msgKind(env.msg)]) && (f.round == nil || f.round[msgRound(env.msg)])
}

// cmdNet delivers, drops, delays (holds back) or releases the matching
// messages. deliver hands over what is in flight now, in send order; what
// the receivers send in answer stays in flight for a later command.
func (e *ienv) cmdNet(a ddArgs) error {
	f, err := e.parseFilter(a)
	if err != nil {
		return err
	}
	src := &e.pending
	if a.name == "release" {
		src = &e.held
	}
	var take, keep []envelope
	for _, env := range *src {
		if f.match(env) {
			take = append(take, env)
		} else {
			keep = append(keep, env)
		}
	}
	*src = keep
	if len(take) == 0 {
		e.printf("no messages match\n")
		return nil
	}
	switch a.name {
	case "drop":
		e.printf("dropped %d\n", len(take))
	case "delay":
		e.held = append(e.held, take...)
		e.printf("delayed %d\n", len(take))
	case "release":
		e.pending = append(e.pending, take...)
		e.printf("released %d\n", len(take))
	case "deliver":
		for _, env := range take {
			e.deliver(env)
		}
	}
	return nil
}

func (e *ienv) deliver(env envelope) {
	n := e.nodes[env.to]
	if n.m == nil {
		return
	}
	var err error
	if env.msg.Vote != nil {
		err = n.m.Step(VoteEvent{Vote: *env.msg.Vote})
	} else {
		err = n.m.Step(ProposalEvent{Proposal: *env.msg.Proposal})
	}
	if err != nil {
		e.printf("%s: rejected %s from %s: %v\n", n.name, e.msgString(env.msg), e.nodes[env.from].name, err)
	}
	e.drainAll()
}

// cmdStabilize delivers everything in flight, and what that provokes,
// until the network is quiet. Held messages stay held.
func (e *ienv) cmdStabilize() error {
	for pass := 0; len(e.pending) > 0; pass++ {
		if pass == 100 {
			return fmt.Errorf("stabilize: still %d messages in flight after 100 passes", len(e.pending))
		}
		take := e.pending
		e.pending = nil
		for _, env := range take {
			e.deliver(env)
		}
	}
	return nil
}

// cmdPending lists the messages in flight, one line per message with its
// receivers, then the held ones.
func (e *ienv) cmdPending() {
	list := func(label string, envs []envelope) {
		type key struct {
			from int
			msg  string
		}
		var order []key
		to := map[key][]string{}
		for _, env := range envs {
			k := key{env.from, e.msgString(env.msg)}
			if _, ok := to[k]; !ok {
				order = append(order, k)
			}
			to[k] = append(to[k], e.nodes[env.to].name)
		}
		for _, k := range order {
			e.printf("%s%s: %s -> %s\n", label, e.nodes[k.from].name, k.msg, strings.Join(to[k], ","))
		}
	}
	if len(e.pending)+len(e.held) == 0 {
		e.printf("nothing in flight\n")
	}
	list("", e.pending)
	list("held ", e.held)
}

// cmdInvalid makes blocks fail validation, on every node or on=n0,n2.
func (e *ienv) cmdInvalid(a ddArgs) error {
	on, err := e.nodeList(a.kv["on"], e.all())
	if err != nil {
		return err
	}
	for _, name := range a.pos {
		id := e.block(name)
		if e.invalid[id] == nil {
			e.invalid[id] = make([]bool, len(e.nodes))
		}
		for _, i := range on {
			e.invalid[id][i] = true
		}
	}
	return nil
}

func (e *ienv) cmdPropose(a ddArgs) error {
	ts, err := e.targets(a)
	if err != nil {
		return err
	}
	if a.kv["block"] == "" {
		return fmt.Errorf("propose: block= is required")
	}
	for _, i := range ts {
		n := e.nodes[i]
		if n.m == nil {
			return fmt.Errorf("propose: %s is down", n.name)
		}
		if err := n.m.ProposeBlock(e.height, n.m.Status().Round, e.block(a.kv["block"])); err != nil {
			return fmt.Errorf("propose: %w", err)
		}
	}
	e.drainAll()
	return nil
}

// cmdTimeout fires the timer a node scheduled for step (of its current
// round, or of round=). A timer that was never scheduled cannot fire: the
// output says so, which is how a scenario asserts that a rule scheduled it.
func (e *ienv) cmdTimeout(a ddArgs) error {
	if len(a.pos) < 2 {
		return fmt.Errorf("timeout: want nodes and a step")
	}
	var step Step
	switch a.pos[len(a.pos)-1] {
	case "propose":
		step = StepPropose
	case "prevote":
		step = StepPrevote
	case "precommit":
		step = StepPrecommit
	default:
		return fmt.Errorf("timeout: step %q", a.pos[len(a.pos)-1])
	}
	ts, err := e.nodeList(strings.Join(a.pos[:len(a.pos)-1], ","), nil)
	if err != nil {
		return err
	}
	for _, i := range ts {
		n := e.nodes[i]
		if n.m == nil {
			return fmt.Errorf("timeout: %s is down", n.name)
		}
		round := n.m.Status().Round
		if s := a.kv["round"]; s != "" {
			r, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return fmt.Errorf("round: %w", err)
			}
			round = uint32(r)
		}
		k := slices.IndexFunc(n.timer, func(t ScheduleTimeout) bool { return t.Round == round && t.Step == step })
		if k < 0 {
			e.printf("%s: no %s timer for r%d\n", n.name, step, round)
			continue
		}
		to := n.timer[k]
		n.timer = slices.Delete(n.timer, k, k+1)
		if err := n.m.Step(TimeoutEvent{Height: to.Height, Round: to.Round, Step: to.Step}); err != nil {
			return fmt.Errorf("timeout: %w", err)
		}
		e.drainAll()
	}
	return nil
}

// cmdByz has a scripted byzantine node sign anything and put it in flight:
//
//	byz n3 proposal round=1 block=B [pol=0] [to=n0,n1]
//	byz n3 prevote|precommit round=0 block=A|nil [to=...]
func (e *ienv) cmdByz(a ddArgs) error {
	if len(a.pos) != 2 {
		return fmt.Errorf("byz: want a node and a message type")
	}
	i, err := e.nodeIdx(a.pos[0])
	if err != nil {
		return err
	}
	if !e.nodes[i].byz {
		return fmt.Errorf("byz: %s is not byzantine (init byz=...)", a.pos[0])
	}
	r, err := strconv.ParseUint(a.kv["round"], 10, 32)
	if err != nil {
		return fmt.Errorf("byz: round: %w", err)
	}
	var honest []int
	for j, n := range e.nodes {
		if !n.byz {
			honest = append(honest, j)
		}
	}
	to, err := e.nodeList(a.kv["to"], honest)
	if err != nil {
		return err
	}
	key, addr := e.tv.keys[i], e.tv.set.Validators[i].Address
	var msg Message
	switch a.pos[1] {
	case "proposal":
		pol := int64(-1)
		if s := a.kv["pol"]; s != "" {
			if pol, err = strconv.ParseInt(s, 10, 32); err != nil {
				return fmt.Errorf("byz: pol: %w", err)
			}
		}
		p := chain.Proposal{Height: e.height, Round: uint32(r), POLRound: int32(pol), BlockID: e.block(a.kv["block"]), Proposer: addr}
		p.Sig = key.Sign(p.SignBytes(e.c, testChain))
		msg.Proposal = &p
	case "prevote", "precommit":
		t := chain.Prevote
		if a.pos[1] == "precommit" {
			t = chain.Precommit
		}
		v := e.tv.vote(e.c, i, t, e.height, uint32(r), e.block(a.kv["block"]))
		msg.Vote = &v
	default:
		return fmt.Errorf("byz: message type %q", a.pos[1])
	}
	for _, j := range to {
		if e.nodes[j].m != nil {
			e.pending = append(e.pending, envelope{from: i, to: j, msg: msg})
		}
	}
	return nil
}

// cmdCrash stops nodes: only the WAL and the last-signed record survive;
// timers and messages in flight to them are lost.
func (e *ienv) cmdCrash(a ddArgs) error {
	ts, err := e.targets(a)
	if err != nil {
		return err
	}
	for _, i := range ts {
		e.nodes[i].m, e.nodes[i].timer = nil, nil
		drop := func(envs []envelope) []envelope {
			return slices.DeleteFunc(envs, func(env envelope) bool { return env.to == i })
		}
		e.pending, e.held = drop(e.pending), drop(e.held)
	}
	return nil
}

// cmdRestart restarts crashed nodes from what survived: wal=lost and
// lastsigned=lost throw that away first (a disk lost or restored from an
// old backup).
func (e *ienv) cmdRestart(a ddArgs) error {
	ts, err := e.targets(a)
	if err != nil {
		return err
	}
	for k, v := range a.kv {
		if (k != "wal" && k != "lastsigned") || (v != "lost" && v != "kept") {
			return fmt.Errorf("restart: %s=%s: want wal= or lastsigned= lost or kept", k, v)
		}
	}
	for _, i := range ts {
		n := e.nodes[i]
		if n.m != nil {
			return fmt.Errorf("restart: %s is running", n.name)
		}
		if a.kv["wal"] == "lost" {
			n.wal = nil
		}
		if a.kv["lastsigned"] == "lost" {
			n.last = nil
		}
		if err := e.startNode(i, true); err != nil {
			return err
		}
	}
	e.drainAll()
	return nil
}

func (e *ienv) cmdRebroadcast(a ddArgs) error {
	ts, err := e.targets(a)
	if err != nil {
		return err
	}
	for _, i := range ts {
		n := e.nodes[i]
		if n.m == nil {
			return fmt.Errorf("rebroadcast: %s is down", n.name)
		}
		for _, msg := range n.m.Rebroadcast() {
			e.printSend(i, msg)
			e.checkDoubleSign(i, msg)
			e.broadcast(i, msg)
		}
	}
	return nil
}

func (e *ienv) cmdStatus(a ddArgs) error {
	ts := e.all()
	if len(a.pos) > 0 {
		var err error
		if ts, err = e.targets(a); err != nil {
			return err
		}
	}
	lock := func(id chain.ID, r int32) string {
		if r < 0 {
			return "-"
		}
		return fmt.Sprintf("%s@%d", e.blockName(id), r)
	}
	for _, i := range ts {
		n := e.nodes[i]
		switch {
		case n.byz:
			e.printf("%s: byzantine\n", n.name)
		case n.m == nil:
			e.printf("%s: down\n", n.name)
		default:
			st := n.m.Status()
			s := fmt.Sprintf("%s: r%d %s locked=%s valid=%s", n.name, st.Round, st.Step,
				lock(st.LockedValue, st.LockedRound), lock(st.ValidValue, st.ValidRound))
			if !st.Decided.IsZero() {
				s += " decided=" + e.blockName(st.Decided)
			}
			e.printf("%s\n", s)
		}
	}
	return nil
}
