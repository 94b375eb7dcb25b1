package testnet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/node/config"
)

// stateSyncBlocks is how long a chain TestStateSyncJoin builds before the
// joiners start (DURE_STATESYNC_BLOCKS overrides it, for the README's
// figures).
func stateSyncBlocks(t *testing.T) uint64 {
	if s := os.Getenv("DURE_STATESYNC_BLOCKS"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n < 120 {
			t.Fatalf("DURE_STATESYNC_BLOCKS=%q: want a number ≥ 120", s)
		}
		return n
	}
	return 300
}

// setStateSync rewrites a home's [statesync] enable.
func (n *e2eNet) setStateSync(p *Proc, enable string) {
	n.t.Helper()
	path := filepath.Join(p.Node.Home, config.FileName)
	cfg, err := config.Load(path)
	if err != nil {
		n.t.Fatal(err)
	}
	cfg.StateSync.Enable = enable
	if err := config.Write(path, cfg); err != nil {
		n.t.Fatal(err)
	}
}

// timeToHead starts p and returns how long it takes to reach the
// validators' head as it was at start.
func (n *e2eNet) timeToHead(ctx context.Context, p *Proc, vals []*Proc, limit time.Duration) (time.Duration, uint64) {
	n.t.Helper()
	head := maxHeight(ctx, vals...)
	t0 := time.Now()
	if err := p.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.waitHeight(ctx, limit, head, p)
	return time.Since(t0), head
}

// A fresh full node joins a chain of a few hundred blocks by state sync:
// it verifies a recent header through the light client from genesis,
// downloads the state at it in chunks, and reaches the head much faster
// than a second fresh node replaying every block; afterwards its state
// root agrees with the validators' and its proven queries verify.
func TestStateSyncJoin(t *testing.T) {
	slow(t)
	parallelScenario(t)
	blocks := stateSyncBlocks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute+time.Duration(blocks)*200*time.Millisecond)
	defer cancel()
	n := newNet(t, netOpts{heartbeat: 50 * time.Millisecond, spare: 3})
	// node0 serves forged snapshots and offers the highest height, so the
	// joiner tries it first: it must be refused and another peer used.
	liar := n.Procs[0]
	liar.Env = []string{"DURE_TEST_SNAPSHOT_LIE=1"}
	n.start(ctx)
	vals := append([]*Proc(nil), n.Procs...)
	n.waitHeight(ctx, time.Duration(blocks)*time.Second, blocks, vals...)

	replay := n.addFullNode(len(vals))
	n.setStateSync(replay, "off")
	replayTook, replayHead := n.timeToHead(ctx, replay, vals, time.Duration(blocks)*time.Second)
	if err := replay.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}

	joiner := n.addFullNode(len(vals) + 1)
	n.setStateSync(joiner, "auto") // the default (addFullNode copied the replay node's config)
	ssTook, ssHead := n.timeToHead(ctx, joiner, vals, 2*time.Minute)

	// It state-synced: the log says so, and it has no early blocks.
	logb, err := os.ReadFile(filepath.Join(joiner.Node.Home, "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	log := string(logb)
	for _, want := range []string{"state sync: starting", "state sync: header verified",
		"state sync: peer served a bad snapshot; denied", liar.Node.P2P[strings.LastIndex(liar.Node.P2P, "/")+1:],
		"state sync: state root matches", "state sync: done"} {
		if !strings.Contains(log, want) {
			t.Fatalf("joiner's log lacks %q:\n%s", want, log)
		}
	}
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "state sync") {
			t.Logf("joiner: %s", l)
		}
	}
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = joiner.Client.Block(rctx, 1)
	rcancel()
	if err == nil {
		t.Fatalf("state-synced joiner serves block 1; it should start at the snapshot height")
	}

	// It follows the chain, with the validators' blocks and state roots.
	// Its first block is the snapshot's height, which may be above the head
	// the validators had when it started (they keep committing meanwhile).
	m := regexp.MustCompile(`msg="state sync: done" height=(\d+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("joiner's log has no state sync height:\n%s", log)
	}
	snapAt, _ := strconv.ParseUint(m[1], 10, 64)
	n.waitHeight(ctx, 30*time.Second, max(ssHead, snapAt)+10, joiner)
	h := max(ssHead, snapAt) + 5
	for _, p := range vals {
		a, b := n.verifiedHeaderAt(ctx, p, h), n.verifiedHeaderAt(ctx, joiner, h)
		if a != b {
			t.Fatalf("block %d: %s has %s, joiner has %s", h, p.Node.Name, a, b)
		}
	}
	// Proven queries on the joiner verify against the validators' headers.
	supply := n.supply(ctx, joiner, "dure")
	if want := n.supply(ctx, vals[0], "dure"); supply == 0 || want == 0 {
		t.Fatalf("joiner's proven supply %d (validator: %d)", supply, want)
	}
	bal := n.balance(ctx, joiner, n.wallets[0].addr, "dure")
	if bal.Amount == 0 {
		t.Fatalf("joiner's proven balance of %s is 0", n.wallets[0].name)
	}
	// A third joiner trusts a checkpoint (height:block_id) instead of genesis.
	cpH := blocks / 2
	cp, err := vals[1].Client.Block(ctx, cpH)
	if err != nil {
		t.Fatal(err)
	}
	third := n.addFullNode(len(vals) + 2)
	path := filepath.Join(third.Node.Home, config.FileName)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateSync.Enable = "on"
	cfg.StateSync.TrustCheckpoint = fmt.Sprintf("%d:%s", cpH, cp.ID)
	if err := config.Write(path, cfg); err != nil {
		t.Fatal(err)
	}
	n.timeToHead(ctx, third, vals, 2*time.Minute)
	logb, err = os.ReadFile(filepath.Join(third.Node.Home, "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "trust=\"checkpoint " + cfg.StateSync.TrustCheckpoint + "\""; !strings.Contains(string(logb), want) ||
		!strings.Contains(string(logb), "state sync: done") {
		t.Fatalf("checkpoint joiner's log lacks %s / state sync: done:\n%s", want, logb)
	}

	t.Logf("chain of %d blocks (heartbeat 50ms, 4 validators): block replay to %d took %s; state sync to %d took %s (%.1fx faster)",
		replayHead, replayHead, replayTook.Round(time.Millisecond), ssHead, ssTook.Round(time.Millisecond),
		float64(replayTook)/float64(ssTook))
	// State sync costs about the same whatever the chain's length (it
	// depends on the state's size); replay grows with every block. Below a
	// few thousand empty blocks replay is as fast, so the comparison is
	// asserted only for a long chain (DURE_STATESYNC_BLOCKS).
	if blocks >= 2000 && ssTook*2 > replayTook {
		t.Fatalf("state sync (%s) is not much faster than replay (%s) of %d blocks", ssTook, replayTook, replayHead)
	}
}

// verifiedHeaderAt is the block ID and state root of p's commit-verified
// header at h.
func (n *e2eNet) verifiedHeaderAt(ctx context.Context, p *Proc, h uint64) string {
	b, _ := n.verifiedHeader(ctx, p, h)
	return fmt.Sprintf("%s/%s", b.ID, b.Header.StateRoot)
}
