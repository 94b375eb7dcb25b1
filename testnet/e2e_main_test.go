package testnet

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/keystore"
)

// The end-to-end tests run real `dure` processes built once per test
// binary and look at them only through the HTTP API.

// dureBin is the binary TestMain builds.
var dureBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// scenarioParallelism is how many parallel scenarios run at once unless
// -test.parallel is given: they wait on heights and deadlines far more than
// they compute (the package used about a quarter of two cores at two), so
// four overlap their waits without crowding the pace tests, which run alone
// before them.
const scenarioParallelism = 4

func runMain(m *testing.M) int {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", fmt.Sprint(scenarioParallelism))
	}
	// DURE_E2E_BIN runs the suite against a given binary instead, e.g.
	// one built from an older commit to bisect a regression.
	if bin := os.Getenv("DURE_E2E_BIN"); bin != "" {
		dureBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "dure-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		fmt.Fprintf(os.Stderr, "e2e: cannot find the module root (go env GOMOD = %q): %v\n", gomod, err)
		return 1
	}
	bin := filepath.Join(dir, "dure")
	// The test hooks (DURE_TEST_DOUBLE_SIGN for the byzantine validator)
	// exist only in a binary built with this tag.
	build := exec.Command("go", "build", "-tags", "dure_testhooks", "-o", bin, "github.com/dure-network/dure")
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build: %v\n%s", err, out)
		return 1
	}
	dureBin = bin
	return m.Run()
}

// long skips a scenario that takes minutes unless DURE_E2E_LONG=1, so the
// default suite stays within its time budget; README lists these.
func long(t *testing.T) {
	t.Helper()
	slow(t)
	if os.Getenv("DURE_E2E_LONG") != "1" {
		t.Skip("long end-to-end scenario (minutes): run with DURE_E2E_LONG=1")
	}
}

// parallelScenario lets a scenario run beside another one (go test runs
// two at once on two cores) after the pace tests, which run alone because
// they compare the chain's pace with and without an attack
// (TestAdversarialPeerCannotHaltChain, TestRemoteAPIClientCannotPartitionValidators,
// TestCompactAttackersCannotHaltChain, TestByzantineCompactProposerCannotHaltChain).
// Every other scenario, fault or app, asserts outcomes with generous
// deadlines, not timing, and uses its own ports and dirs.
func parallelScenario(t *testing.T) {
	t.Helper()
	t.Parallel()
}

// slow skips a test in -short mode.
func slow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end fault scenario: skipped with -short")
	}
}

// portsFree reports whether base+10i and base+10i+1 are free on loopback
// for i < nodes.
func portsFree(base, nodes int) bool {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := 0; i < nodes; i++ {
		for _, p := range []int{base + 10*i, base + 10*i + 1} {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				return false
			}
			lns = append(lns, ln)
		}
	}
	return true
}

// freeBasePort finds a base port with room for nodes nodes, below the
// Linux ephemeral range so outgoing connections cannot take them. The
// slots it hands out stay reserved for the test binary, so scenarios
// running side by side (and a node stopped for a restart) never share one.
func freeBasePort(t *testing.T, nodes int) int {
	t.Helper()
	basePorts.mu.Lock()
	defer basePorts.mu.Unlock()
	if basePorts.taken == nil {
		basePorts.taken = map[int]bool{}
	}
	const slots = 1200
	for range 500 {
		slot := rand.IntN(slots - nodes + 1)
		clash := false
		for i := range nodes {
			clash = clash || basePorts.taken[slot+i]
		}
		base := 20000 + slot*10
		if clash || !portsFree(base, nodes) {
			continue
		}
		for i := range nodes {
			basePorts.taken[slot+i] = true
		}
		return base
	}
	t.Fatalf("no free port range for %d nodes", nodes)
	return 0
}

// basePorts are freeBasePort's reserved slots (slot i: ports 20000+10i…).
var basePorts struct {
	mu    sync.Mutex
	taken map[int]bool
}

// netOpts shape a generated network.
type netOpts struct {
	validators int
	heartbeat  time.Duration
	spare      int // extra port slots reserved for nodes added later
}

// e2eNet is a generated network plus what the tests need to sign txs.
type e2eNet struct {
	*Net
	t       *testing.T
	codec   *chain.Codec
	chainID string
	base    int
	wallets []*wallet
}

// wallet signs transfers for one demo account, tracking its next nonce.
type wallet struct {
	name  string
	key   chain.PrivKey
	addr  chain.Address
	mu    sync.Mutex
	nonce uint64
}

// newNet generates a network in t.TempDir() and registers its shutdown;
// it starts nothing.
func newNet(t *testing.T, o netOpts) *e2eNet {
	t.Helper()
	if o.validators == 0 {
		o.validators = 4
	}
	if o.heartbeat == 0 {
		o.heartbeat = 300 * time.Millisecond
	}
	dir := filepath.Join(t.TempDir(), "net")
	base := freeBasePort(t, o.validators+o.spare)
	gen := exec.Command(dureBin, "testnet", "--generate-only", "--dir", dir, "--validators", fmt.Sprint(o.validators),
		"--base-port", fmt.Sprint(base), "--heartbeat", o.heartbeat.String())
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("generate testnet: %v\n%s", err, out)
	}
	n, err := Open(dureBin, dir)
	if err != nil {
		t.Fatal(err)
	}
	en := &e2eNet{Net: n, t: t, codec: chain.MustCodec(), chainID: n.Manifest.ChainID, base: base}
	ks, err := keystore.Open(filepath.Join(dir, "keys"), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range n.Manifest.Accounts {
		k, err := ks.Signer(name)
		if err != nil {
			t.Fatalf("demo key %s: %v", name, err)
		}
		en.wallets = append(en.wallets, &wallet{name: name, key: k, addr: chain.AddressOf(k.PubKey())})
	}
	t.Cleanup(func() {
		if t.Failed() {
			en.dumpLogs(60)
			en.keepForDiagnosis()
		}
		if err := n.StopAll(5 * time.Second); err != nil {
			t.Logf("stop: %v", err)
		}
	})
	return en
}

// dumpLogs prints the tail of every node's log, for a failed test.
func (n *e2eNet) dumpLogs(lines int) {
	for _, p := range n.Procs {
		b, err := os.ReadFile(filepath.Join(p.Node.Home, "node.log"))
		if err != nil {
			n.t.Logf("%s: no log: %v", p.Node.Name, err)
			continue
		}
		ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(ls) > lines {
			ls = ls[len(ls)-lines:]
		}
		n.t.Logf("---- %s/node.log (last %d lines) ----\n%s", p.Node.Home, len(ls), strings.Join(ls, "\n"))
	}
}

// keepForDiagnosis makes every running node dump its goroutines into its
// log (SIGQUIT) and copies the logs out of t.TempDir() so they survive
// the test.
func (n *e2eNet) keepForDiagnosis() {
	for _, p := range n.Procs {
		if !p.Running() {
			continue
		}
		if p.isPaused() {
			_ = p.Resume()
		}
		if p.signal(syscall.SIGQUIT) == nil {
			_ = p.wait(5 * time.Second)
		}
	}
	keep, err := os.MkdirTemp("", "dure-e2e-"+strings.ReplaceAll(n.t.Name(), "/", "_")+"-")
	if err != nil {
		n.t.Logf("keep logs: %v", err)
		return
	}
	for _, p := range n.Procs {
		b, err := os.ReadFile(filepath.Join(p.Node.Home, "node.log"))
		if err == nil {
			err = os.WriteFile(filepath.Join(keep, p.Node.Name+".log"), b, 0o644)
		}
		if err != nil {
			n.t.Logf("keep %s's log: %v", p.Node.Name, err)
		}
	}
	n.t.Logf("full node logs, with goroutine dumps of the nodes still running, kept in %s", keep)
}

// start starts the given nodes (all when none given) and waits for the
// first block on each.
func (n *e2eNet) start(ctx context.Context, procs ...*Proc) {
	n.t.Helper()
	if len(procs) == 0 {
		procs = n.Procs
	}
	for _, p := range procs {
		if err := p.Start(); err != nil {
			n.t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := WaitHeight(wctx, 1, procs...); err != nil {
		n.t.Fatalf("network did not make its first block: %v", err)
	}
}

// waitHeight waits up to d for every proc to reach h.
func (n *e2eNet) waitHeight(ctx context.Context, d time.Duration, h uint64, procs ...*Proc) {
	n.t.Helper()
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := WaitHeight(wctx, h, procs...); err != nil {
		n.t.Fatalf("%v\nnodes now:\n%s", err, n.describe())
	}
}

// describe is one line per node with what its status says about
// progress: height, peers and consensus gossip counters.
func (n *e2eNet) describe() string {
	var b strings.Builder
	for _, p := range n.Procs {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := p.Client.Status(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(&b, "  %s: %v\n", p.Node.Name, err)
			continue
		}
		gossip := "?"
		if m, ok := st.P2P.(map[string]any); ok {
			if stats, ok := m["stats"].(map[string]any); ok {
				gossip = fmt.Sprint(stats["consensus"])
			}
		}
		fmt.Fprintf(&b, "  %s: height %d, %d peers, syncing %t, consensus %v, consensus gossip %s\n",
			p.Node.Name, st.Height, st.Peers, st.Syncing, st.Consensus, gossip)
	}
	return b.String()
}

// maxHeight is the highest height any reachable proc reports.
func maxHeight(ctx context.Context, procs ...*Proc) uint64 {
	var top uint64
	for _, p := range procs {
		if h, err := p.Height(ctx); err == nil && h > top {
			top = h
		}
	}
	return top
}

// minHeight is the lowest height of the procs; it fails the test if one
// does not answer.
func (n *e2eNet) minHeight(ctx context.Context, procs ...*Proc) uint64 {
	n.t.Helper()
	low := ^uint64(0)
	for _, p := range procs {
		h, err := p.Height(ctx)
		if err != nil {
			n.t.Fatalf("%s: status: %v", p.Node.Name, err)
		}
		low = min(low, h)
	}
	return low
}

// refreshNonces sets each wallet's nonce from p's committed state.
func (n *e2eNet) refreshNonces(ctx context.Context, p *Proc) {
	n.t.Helper()
	for _, w := range n.wallets {
		a, err := p.Client.Account(ctx, w.addr, false)
		if err != nil {
			n.t.Fatalf("account %s on %s: %v", w.name, p.Node.Name, err)
		}
		w.mu.Lock()
		w.nonce = a.Nonce
		w.mu.Unlock()
	}
}

// transfer signs w's next transfer of amount to to; the nonce is
// consumed. It is safe to call from load goroutines.
func (n *e2eNet) transfer(w *wallet, to chain.Address, amount uint64) ([]byte, chain.ID, error) {
	msg, err := currency.MsgSend(n.codec, to, "dure", amount)
	if err != nil {
		return nil, "", err
	}
	w.mu.Lock()
	tx := chain.Tx{ChainID: n.chainID, Nonce: w.nonce, MaxFee: 10, Msgs: []chain.Msg{msg}}
	w.nonce++
	w.mu.Unlock()
	raw, err := tx.Sign(n.codec, w.key)
	if err != nil {
		return nil, "", err
	}
	return raw, chain.IDOf(raw), nil
}

// blockCache fetches each block once per node.
type blockCache struct {
	mu sync.Mutex
	m  map[string]api.BlockInfo
}

func (c *blockCache) get(ctx context.Context, p *Proc, h uint64) (api.BlockInfo, error) {
	key := fmt.Sprintf("%s/%d", p.Node.Name, h)
	c.mu.Lock()
	b, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return b, nil
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		b, err = p.Client.Block(rctx, h)
		cancel()
		var ae *api.APIError
		if err == nil || errors.As(err, &ae) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return b, fmt.Errorf("%s: block %d: %w", p.Node.Name, h, err)
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]api.BlockInfo{}
	}
	c.m[key] = b
	c.mu.Unlock()
	return b, nil
}

// checkAgreement asserts that every proc has the same block, state root
// and parent link at each height in [from, to], that each reported ID is
// the hash of the header served with it, and that each block carries a
// commit for itself.
func (n *e2eNet) checkAgreement(ctx context.Context, from, to uint64, procs ...*Proc) {
	n.t.Helper()
	if from == 0 {
		from = 1
	}
	var bc blockCache
	var prev chain.ID
	for h := from; h <= to; h++ {
		var ref api.BlockInfo
		for i, p := range procs {
			b, err := bc.get(ctx, p, h)
			if err != nil {
				n.t.Fatalf("agreement at %d: %v", h, err)
			}
			if got := b.Header.ID(n.codec); got != b.ID {
				n.t.Fatalf("%s: block %d: served ID %s but its header hashes to %s", p.Node.Name, h, b.ID, got)
			}
			if b.Header.Height != h {
				n.t.Fatalf("%s: asked for block %d, got header height %d", p.Node.Name, h, b.Header.Height)
			}
			if b.Commit == nil || b.Commit.BlockID != b.ID || b.Commit.Height != h {
				n.t.Fatalf("%s: block %d has no commit for itself: %+v", p.Node.Name, h, b.Commit)
			}
			if i == 0 {
				ref = b
				continue
			}
			if b.ID != ref.ID || b.Header.StateRoot != ref.Header.StateRoot {
				n.t.Fatalf("FORK at height %d: %s has block %s state root %x, %s has block %s state root %x",
					h, procs[0].Node.Name, ref.ID, ref.Header.StateRoot, p.Node.Name, b.ID, b.Header.StateRoot)
			}
		}
		if h > from && ref.Header.Parent != prev {
			n.t.Fatalf("block %d's parent is %s, but block %d is %s", h, ref.Header.Parent, h-1, prev)
		}
		prev = ref.ID
	}
}

// checkTxs asserts that every tx is found on every proc, at one location
// across nodes, executed successfully, with a Merkle proof that verifies
// against the TxRoot of the header each node serves for that height.
func (n *e2eNet) checkTxs(ctx context.Context, ids []chain.ID, procs ...*Proc) {
	n.t.Helper()
	var bc blockCache
	for _, id := range ids {
		var refH uint64
		var refIdx int
		for i, p := range procs {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			info, err := p.Client.Tx(rctx, id, true)
			cancel()
			if err != nil {
				n.t.Fatalf("%s: committed tx %s: %v", p.Node.Name, id, err)
			}
			if chain.IDOf(info.Raw) != id {
				n.t.Fatalf("%s: tx %s served with bytes that hash to %s", p.Node.Name, id, chain.IDOf(info.Raw))
			}
			if info.Result == nil || info.Result.Code != 0 {
				n.t.Fatalf("%s: tx %s did not succeed: %+v", p.Node.Name, id, info.Result)
			}
			b, err := bc.get(ctx, p, info.Height)
			if err != nil {
				n.t.Fatal(err)
			}
			if info.BlockID != b.ID {
				n.t.Fatalf("%s: tx %s says block %s, height %d is %s", p.Node.Name, id, info.BlockID, info.Height, b.ID)
			}
			if info.Proof == nil {
				n.t.Fatalf("%s: tx %s: no proof with prove=true", p.Node.Name, id)
			}
			if err := info.Proof.Verify(b.Header.TxRoot, info.Raw); err != nil {
				n.t.Fatalf("%s: tx %s: proof does not verify against block %d's tx root: %v", p.Node.Name, id, info.Height, err)
			}
			if info.Index >= len(b.TxIDs) || b.TxIDs[info.Index] != id {
				n.t.Fatalf("%s: tx %s is not at index %d of block %d", p.Node.Name, id, info.Index, info.Height)
			}
			if i == 0 {
				refH, refIdx = info.Height, info.Index
			} else if info.Height != refH || info.Index != refIdx {
				n.t.Fatalf("tx %s: %s has it at %d/%d, %s at %d/%d", id, procs[0].Node.Name, refH, refIdx, p.Node.Name, info.Height, info.Index)
			}
		}
	}
}

// waitCommitted waits until p serves every tx in ids.
func (n *e2eNet) waitCommitted(ctx context.Context, d time.Duration, p *Proc, ids []chain.ID) {
	n.t.Helper()
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for i := 0; i < len(ids); {
		rctx, rcancel := context.WithTimeout(wctx, 5*time.Second)
		_, err := p.Client.Tx(rctx, ids[i], false)
		rcancel()
		if err == nil {
			i++
			continue
		}
		select {
		case <-wctx.Done():
			n.t.Fatalf("%s: %d of %d txs still not committed, first %s: %v", p.Node.Name, len(ids)-i, len(ids), ids[i], err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// heightStalls asserts that, after settle, no proc goes past the highest
// height any of them had then, for hold (a lagging node may still catch
// up to it). It returns that height.
func (n *e2eNet) heightStalls(ctx context.Context, settle, hold time.Duration, procs ...*Proc) uint64 {
	n.t.Helper()
	time.Sleep(settle)
	var top uint64
	for _, p := range procs {
		h, err := p.Height(ctx)
		if err != nil {
			n.t.Fatalf("%s: %v", p.Node.Name, err)
		}
		top = max(top, h)
	}
	deadline := time.Now().Add(hold)
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		for _, p := range procs {
			h, err := p.Height(ctx)
			if err != nil {
				n.t.Fatalf("%s: %v", p.Node.Name, err)
			}
			if h > top {
				n.t.Fatalf("%s reached height %d, past the halt at %d: the chain should not commit without a quorum", p.Node.Name, h, top)
			}
		}
	}
	return top
}
