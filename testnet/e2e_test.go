package testnet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
)

// loadResult is what a load run got back.
type loadResult struct {
	mu       sync.Mutex
	accepted []chain.ID // every tx a node accepted
	acked    map[chain.ID]uint64
	errs     []error
}

func (r *loadResult) add(id chain.ID, height uint64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	r.accepted = append(r.accepted, id)
	if height > 0 {
		if r.acked == nil {
			r.acked = map[chain.ID]uint64{}
		}
		r.acked[id] = height
	}
}

// load sends perWallet transfers from each demo account, its txs in nonce
// order and round-robin across targets; every sample-th waits for commit.
// The accounts send concurrently.
func (n *e2eNet) load(ctx context.Context, perWallet, sample int, targets ...*Proc) *loadResult {
	n.t.Helper()
	res := &loadResult{}
	var wg sync.WaitGroup
	for wi, w := range n.wallets {
		to := n.wallets[(wi+1)%len(n.wallets)].addr
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWallet && ctx.Err() == nil; i++ {
				raw, id, err := n.transfer(w, to, uint64(1+i))
				if err != nil {
					res.add(id, 0, err)
					return
				}
				p := targets[(wi+i)%len(targets)]
				wait := sample > 0 && i%sample == sample-1
				sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				r, err := p.Client.Submit(sctx, raw, wait)
				cancel()
				switch {
				case err != nil:
					err = fmt.Errorf("%s nonce %d to %s: %w", w.name, i, p.Node.Name, err)
				case r.ID != id:
					err = fmt.Errorf("%s: submitted %s, node answered for %s", p.Node.Name, id, r.ID)
				case wait && (r.Height == 0 || r.Result == nil || r.Result.Code != 0):
					err = fmt.Errorf("%s: waited tx %s acknowledged without a successful commit: %+v", p.Node.Name, id, r)
				}
				res.add(id, r.Height, err)
				time.Sleep(15 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	return res
}

// send submits k transfers from w to p without waiting for commit.
func (n *e2eNet) send(ctx context.Context, w *wallet, p *Proc, k int) []chain.ID {
	n.t.Helper()
	to := n.wallets[0].addr
	if w == n.wallets[0] {
		to = n.wallets[1].addr
	}
	var ids []chain.ID
	for i := 0; i < k; i++ {
		raw, id, err := n.transfer(w, to, 7)
		if err != nil {
			n.t.Fatal(err)
		}
		if _, err := p.Client.Submit(ctx, raw, false); err != nil {
			n.t.Fatalf("%s: submit %s's tx: %v", p.Node.Name, w.name, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// requireClean fails the test on any submission error.
func (r *loadResult) requireClean(t *testing.T) {
	t.Helper()
	for i, err := range r.errs {
		if i == 5 {
			t.Errorf("... and %d more", len(r.errs)-5)
			break
		}
		t.Errorf("submit: %v", err)
	}
	if len(r.errs) > 0 {
		t.FailNow()
	}
}

// checkAcked asserts that every acknowledged tx is at the height the
// node acknowledged it at.
func (n *e2eNet) checkAcked(ctx context.Context, acked map[chain.ID]uint64, p *Proc) {
	n.t.Helper()
	for id, h := range acked {
		info, err := p.Client.Tx(ctx, id, false)
		if err != nil {
			n.t.Fatalf("%s: acknowledged tx %s (height %d) is missing: %v", p.Node.Name, id, h, err)
		}
		if info.Height != h {
			n.t.Fatalf("%s: tx %s acknowledged at height %d, found at %d", p.Node.Name, id, h, info.Height)
		}
	}
}

// Four validators commit under continuous load; every node has the same
// block and state root at every height, and every tx, acknowledged or
// merely accepted, is on every node with a valid inclusion proof.
func TestAgreementUnderLoad(t *testing.T) {
	parallelScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)

	perWallet := 75
	if testing.Short() {
		perWallet = 20
	}
	res := n.load(ctx, perWallet, 10, n.Procs...)
	res.requireClean(t)
	if len(res.accepted) != perWallet*len(n.wallets) || len(res.acked) == 0 {
		t.Fatalf("accepted %d of %d txs, %d acknowledged", len(res.accepted), perWallet*len(n.wallets), len(res.acked))
	}
	n.waitCommitted(ctx, 60*time.Second, n.Procs[0], res.accepted)
	top := maxHeight(ctx, n.Procs...)
	n.waitHeight(ctx, 30*time.Second, top, n.Procs...)
	n.checkAgreement(ctx, 1, top, n.Procs...)
	n.checkTxs(ctx, res.accepted, n.Procs...)
	for _, p := range n.Procs {
		n.checkAcked(ctx, res.acked, p)
	}
	t.Logf("%d txs (%d acknowledged) in agreement across %d nodes over %d heights", len(res.accepted), len(res.acked), len(n.Procs), top)
}

// A validator killed with SIGKILL: the other three keep committing (3 of
// 4 is a quorum); restarted, it catches up with the blocks it missed,
// including their txs, and the nodes agree at every height.
func TestKilledValidatorCatchesUp(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	victim, others := n.Procs[3], n.Procs[:3]
	n.waitHeight(ctx, 30*time.Second, 3, n.Procs...)

	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	down := maxHeight(ctx, others...)
	res := n.load(ctx, 10, 5, others...)
	res.requireClean(t)
	n.waitHeight(ctx, 30*time.Second, down+10, others...)
	n.waitCommitted(ctx, 30*time.Second, others[0], res.accepted)
	if h, err := victim.Height(ctx); err == nil {
		t.Fatalf("killed node still answers at height %d", h)
	}

	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	target := maxHeight(ctx, others...)
	n.waitHeight(ctx, 60*time.Second, target, victim)
	// Caught up and following: it keeps up with new heights too.
	n.waitHeight(ctx, 30*time.Second, target+3, n.Procs...)
	// And it votes again: with another validator frozen, the chain only
	// moves if the restarted one is part of the quorum.
	if err := others[0].Pause(); err != nil {
		t.Fatal(err)
	}
	h := maxHeight(ctx, n.Procs[1:]...)
	n.waitHeight(ctx, 30*time.Second, h+3, n.Procs[1:]...)
	if err := others[0].Resume(); err != nil {
		t.Fatal(err)
	}
	n.waitHeight(ctx, 30*time.Second, h+3, n.Procs...)
	top := n.minHeight(ctx, n.Procs...)
	n.checkAgreement(ctx, 1, top, n.Procs...)
	n.checkTxs(ctx, res.accepted, n.Procs...)
	t.Logf("killed at %d, others went on to %d, restarted node caught up; agreement over %d heights", down, target, top)
}

// Two of four validators frozen (SIGSTOP): half the power cannot commit,
// so the chain halts without forking; thawed, it resumes.
func TestTwoStoppedHaltThenResume(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	n.waitHeight(ctx, 30*time.Second, 3, n.Procs...)

	for _, p := range n.Procs[2:] {
		if err := p.Pause(); err != nil {
			t.Fatal(err)
		}
	}
	n.refreshNonces(ctx, n.Procs[0])
	var pending []chain.ID
	for i, p := range n.Procs[:2] {
		pending = append(pending, n.send(ctx, n.wallets[i], p, 5)...)
	}
	halted := n.heightStalls(ctx, 2*time.Second, 5*time.Second, n.Procs[:2]...)
	for _, p := range n.Procs[2:] {
		if err := p.Resume(); err != nil {
			t.Fatal(err)
		}
	}
	n.waitHeight(ctx, 45*time.Second, halted+3, n.Procs...)
	n.waitCommitted(ctx, 30*time.Second, n.Procs[0], pending)
	top := maxHeight(ctx, n.Procs...)
	n.waitHeight(ctx, 30*time.Second, top, n.Procs...)
	n.checkAgreement(ctx, 1, top, n.Procs...)
	n.checkTxs(ctx, pending, n.Procs...)
	t.Logf("halted at %d with two nodes stopped, resumed to %d", halted, top)
}

// setPartition denies (or allows) every peer across the two sides, on
// both ends of each pair.
func (n *e2eNet) setPartition(ctx context.Context, a, b []*Proc, deny bool) {
	n.t.Helper()
	for _, x := range a {
		for _, y := range b {
			for _, pair := range [][2]*Proc{{x, y}, {y, x}} {
				if err := pair[0].Client.Deny(ctx, pair[1].Node.PeerID, deny); err != nil {
					n.t.Fatalf("%s deny=%t %s: %v", pair[0].Node.Name, deny, pair[1].Node.Name, err)
				}
			}
		}
	}
}

// deniedBy lists the peer IDs p reports as denied.
func deniedBy(ctx context.Context, p *Proc) ([]string, error) {
	var out struct {
		Denied []string `json:"denied"`
	}
	err := p.Client.Peers(ctx, &out)
	return out.Denied, err
}

// A 2|2 partition through the nodes' deny lists halts the chain (neither
// side has a quorum) without a fork; lifting it lets the chain resume.
func TestPartitionHaltsAndHeals(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	n.waitHeight(ctx, 30*time.Second, 3, n.Procs...)
	left, right := n.Procs[:2], n.Procs[2:]

	n.setPartition(ctx, left, right, true)
	for _, p := range n.Procs {
		d, err := deniedBy(ctx, p)
		if err != nil || len(d) != 2 {
			t.Fatalf("%s denies %v (%v), want the 2 peers across the partition", p.Node.Name, d, err)
		}
	}
	// Each side accepts txs it cannot commit yet.
	n.refreshNonces(ctx, n.Procs[0])
	var pending []chain.ID
	for i, p := range []*Proc{left[0], right[0]} {
		pending = append(pending, n.send(ctx, n.wallets[i], p, 5)...)
	}
	halted := n.heightStalls(ctx, 2*time.Second, 5*time.Second, n.Procs...)

	n.setPartition(ctx, left, right, false)
	for _, p := range n.Procs {
		if d, err := deniedBy(ctx, p); err != nil || len(d) != 0 {
			t.Fatalf("%s still denies %v after heal (%v)", p.Node.Name, d, err)
		}
	}
	// Pubsub may take ~10 s to re-graft the mesh after the peers reconnect.
	n.waitHeight(ctx, 60*time.Second, halted+3, n.Procs...)
	n.waitCommitted(ctx, 30*time.Second, n.Procs[0], pending)
	top := maxHeight(ctx, n.Procs...)
	n.waitHeight(ctx, 30*time.Second, top, n.Procs...)
	n.checkAgreement(ctx, 1, top, n.Procs...)
	n.checkTxs(ctx, pending, n.Procs...)
	t.Logf("halted at %d under the partition, resumed to %d after heal", halted, top)
}

// One validator cut off from the other three (deny lists on both ends):
// the three keep committing; once healed, the isolated one learns it is
// behind, syncs the missed blocks without a restart, and votes again.
func TestIsolatedValidatorRejoins(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	n.waitHeight(ctx, 30*time.Second, 3, n.Procs...)
	lone, rest := n.Procs[3:], n.Procs[:3]

	n.setPartition(ctx, lone, rest, true)
	cut := maxHeight(ctx, n.Procs...)
	n.waitHeight(ctx, 30*time.Second, cut+10, rest...)
	if h, err := lone[0].Height(ctx); err != nil || h > cut+1 {
		t.Fatalf("isolated node at %d (%v): it should not have followed past %d", h, err, cut+1)
	}
	n.setPartition(ctx, lone, rest, false)
	target := maxHeight(ctx, rest...)
	n.waitHeight(ctx, 60*time.Second, target, lone...)
	// It is a voting member again: with another validator frozen, the
	// chain moves only if the rejoined one takes part.
	if err := rest[0].Pause(); err != nil {
		t.Fatal(err)
	}
	h := maxHeight(ctx, n.Procs[1:]...)
	n.waitHeight(ctx, 30*time.Second, h+3, n.Procs[1:]...)
	if err := rest[0].Resume(); err != nil {
		t.Fatal(err)
	}
	n.waitHeight(ctx, 30*time.Second, h+3, n.Procs...)
	top := n.minHeight(ctx, n.Procs...)
	n.checkAgreement(ctx, 1, top, n.Procs...)
	t.Logf("cut off at %d while the others reached %d; rejoined and followed to %d", cut, target, top)
}

// A validator that signs conflicting votes: an honest node turns them
// into evidence, a block includes it, staking slashes and tombstones the
// validator and drops it from the set, and the other three go on.
func TestDoubleSignerIsSlashed(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	byz, honest := n.Procs[3], n.Procs[:3]
	byz.Env = []string{"DURE_TEST_DOUBLE_SIGN=1"}
	byzAddr, err := chain.ParseAddress(byz.Node.Validator)
	if err != nil {
		t.Fatal(err)
	}
	n.start(ctx)

	// 1. Evidence against it is committed in a block.
	evH := uint64(0)
	deadline := time.Now().Add(45 * time.Second)
	var bc blockCache
	for next := uint64(1); evH == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no block up to height %d includes evidence against %s", next-1, byzAddr)
		}
		// Read only what honest[0] itself has committed: the others may be ahead.
		top, err := honest[0].Height(ctx)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ; next <= top && evH == 0; next++ {
			b, err := bc.get(ctx, honest[0], next)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range b.Evidence {
				if ev.VoteA.Validator == byzAddr && ev.VoteB.Validator == byzAddr && ev.VoteA.BlockID != ev.VoteB.BlockID {
					evH = next
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("evidence against %s included at height %d", byzAddr, evH)

	// 2. Staking has slashed and tombstoned it, and it leaves the set.
	n.waitHeight(ctx, 30*time.Second, evH+3, honest...)
	var q struct {
		Height uint64 `json:"height"`
		Result struct {
			Tokens     uint64 `json:"tokens"`
			Active     bool   `json:"active"`
			Power      uint64 `json:"power"`
			Tombstoned bool   `json:"tombstoned"`
			Jailed     bool   `json:"jailed"`
		} `json:"result"`
	}
	if err := honest[0].Client.Query(ctx, "staking", "validator", map[string]string{"address": byzAddr.String()}, &q); err != nil {
		t.Fatal(err)
	}
	const stake = 10_000_000
	if !q.Result.Tombstoned || q.Result.Active || q.Result.Tokens >= stake {
		t.Fatalf("at height %d the double signer is %+v: want tombstoned, inactive, tokens below %d", q.Height, q.Result, stake)
	}
	for _, p := range honest {
		vs, err := p.Client.Validators(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs.Validators {
			if v.Address == byzAddr {
				t.Fatalf("%s: validator set for height %d still lists the double signer", p.Node.Name, vs.Height)
			}
		}
		if len(vs.Validators) != 3 {
			t.Fatalf("%s: validator set for height %d has %d members, want the 3 honest ones", p.Node.Name, vs.Height, len(vs.Validators))
		}
	}

	// 3. The honest three keep committing and agree.
	h := maxHeight(ctx, honest...)
	n.waitHeight(ctx, 30*time.Second, h+5, honest...)
	top := n.minHeight(ctx, honest...)
	n.checkAgreement(ctx, 1, top, honest...)
	t.Logf("slashed to %d tokens and tombstoned; honest validators went on to %d", q.Result.Tokens, top)
}

// addFullNode makes a non-validator home next to the generated ones:
// node3's genesis and config with its own ports, moniker and peer
// identity, no validator key, and every validator as a bootstrap peer.
func (n *e2eNet) addFullNode(slot int) *Proc {
	n.t.Helper()
	src := n.Procs[len(n.Procs)-1].Node.Home
	name := fmt.Sprintf("node%d", slot)
	home := filepath.Join(n.Dir, name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		n.t.Fatal(err)
	}
	gen, err := os.ReadFile(filepath.Join(src, "genesis.json"))
	if err != nil {
		n.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "genesis.json"), gen, 0o600); err != nil {
		n.t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(src, config.FileName))
	if err != nil {
		n.t.Fatal(err)
	}
	cfg.Moniker = name
	cfg.PrivValidatorKey = ""
	cfg.NodeKeyFile = "node_key.json" // relative to the new home: a fresh peer ID
	cfg.API.ListenAddr = fmt.Sprintf("127.0.0.1:%d", n.base+10*slot)
	cfg.P2P.ListenAddrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", n.base+10*slot+1)}
	cfg.P2P.BootstrapPeers = nil
	for _, p := range n.Procs {
		if p.Node.P2P != "" { // nodes added by this helper have no manifest address
			cfg.P2P.BootstrapPeers = append(cfg.P2P.BootstrapPeers, p.Node.P2P)
		}
	}
	if err := config.Write(filepath.Join(home, config.FileName), cfg); err != nil {
		n.t.Fatal(err)
	}
	mn := ManifestNode{Name: name, Home: home, API: "http://" + cfg.API.ListenAddr}
	p := &Proc{Node: mn, Bin: n.Bin, Client: api.NewClient(mn.API)}
	n.Procs = append(n.Procs, p) // stopped with the rest in cleanup
	return p
}

// A full node started after the chain has 200 blocks syncs from height 1
// to the head, then follows new blocks, with the validators' block IDs.
func TestLateJoinerSyncs(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{heartbeat: 100 * time.Millisecond, spare: 1})
	n.start(ctx)
	vals := append([]*Proc(nil), n.Procs...)
	n.waitHeight(ctx, 100*time.Second, 200, vals...)

	late := n.addFullNode(len(vals))
	n.setStateSync(late, "off") // this test is about block replay (state sync: statesync_e2e_test.go)
	if err := late.Start(); err != nil {
		t.Fatal(err)
	}
	head := maxHeight(ctx, vals...)
	n.waitHeight(ctx, 60*time.Second, head, late)
	st, err := late.Client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Validator != nil {
		t.Fatalf("late joiner reports itself as validator %+v", st.Validator)
	}
	n.waitHeight(ctx, 30*time.Second, max(head, st.Height)+5, late)
	top := n.minHeight(ctx, n.Procs...)
	n.checkAgreement(ctx, 1, top, n.Procs...)
	t.Logf("joined when the head was %d, synced and followed to %d", head, top)
}

// SIGKILL a validator at random moments while it acknowledges commits:
// after each restart its head block loads and matches the state root it
// reports, and no acknowledged tx is missing anywhere.
func TestKillDuringCommits(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	victim, others := n.Procs[1], []*Proc{n.Procs[0], n.Procs[2], n.Procs[3]}
	n.waitHeight(ctx, 30*time.Second, 2, n.Procs...)
	acked := map[chain.ID]uint64{}
	for round := 1; round <= 3; round++ {
		n.refreshNonces(ctx, victim)
		res := &loadResult{}
		var killing atomic.Bool
		firstAck, ackOnce := make(chan struct{}), &sync.Once{}
		var wg sync.WaitGroup
		for wi, w := range n.wallets {
			to := n.wallets[(wi+1)%len(n.wallets)].addr
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					raw, id, err := n.transfer(w, to, uint64(1+i))
					if err != nil {
						res.add(id, 0, err)
						return
					}
					sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
					r, err := victim.Client.Submit(sctx, raw, true)
					cancel()
					if err != nil {
						// Expected once the node is killed; anything
						// else is worth seeing in the log.
						if !killing.Load() {
							t.Logf("round %d: %s: submit while the node ran: %v", round, w.name, err)
						}
						return
					}
					res.add(id, r.Height, nil)
					ackOnce.Do(func() { close(firstAck) })
				}
			}()
		}
		// Kill at a random moment once commits are flowing, so every
		// round has acknowledged txs to lose.
		select {
		case <-firstAck:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: %s acknowledged no commit within 20 s", round, victim.Node.Name)
		}
		delay := rand.N(2500 * time.Millisecond)
		time.Sleep(delay)
		killing.Store(true)
		if err := victim.Kill(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		res.requireClean(t)
		for id, h := range res.acked {
			acked[id] = h
		}
		t.Logf("round %d: killed %s after the first commit, %d txs acknowledged", round, delay, len(res.acked))

		if err := victim.Start(); err != nil {
			t.Fatal(err)
		}
		n.checkHeadIntact(ctx, victim)
		n.checkAcked(ctx, res.acked, victim)
		target := maxHeight(ctx, others...)
		n.waitHeight(ctx, 60*time.Second, target+2, n.Procs...)
	}
	if len(acked) == 0 {
		t.Fatal("no tx was acknowledged in any round: the test checked nothing")
	}
	top := n.minHeight(ctx, n.Procs...)
	n.checkAgreement(ctx, 1, top, n.Procs...)
	ids := make([]chain.ID, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	n.checkTxs(ctx, ids, n.Procs...)
	for _, p := range n.Procs {
		n.checkAcked(ctx, acked, p)
	}
	t.Logf("%d acknowledged txs survived 3 kills; agreement over %d heights", len(acked), top)
}

// checkHeadIntact waits for a restarted node's API and checks that its
// head block loads and that the block ID and state root it reports are
// those of that block's header.
func (n *e2eNet) checkHeadIntact(ctx context.Context, p *Proc) {
	n.t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		st, err := p.Client.Status(wctx)
		if err == nil && st.Height > 0 {
			b, err := p.Client.Block(wctx, st.Height)
			if err != nil {
				n.t.Fatalf("%s: head block %d does not load after restart: %v", p.Node.Name, st.Height, err)
			}
			if b.ID != st.BlockID || b.Header.StateRoot != st.StateRoot || b.Header.ID(n.codec) != b.ID {
				n.t.Fatalf("%s after restart: status says block %s root %x, head block is %s root %x",
					p.Node.Name, st.BlockID, st.StateRoot, b.ID, b.Header.StateRoot)
			}
			return
		}
		select {
		case <-wctx.Done():
			n.t.Fatalf("%s: API did not come back after restart: %v", p.Node.Name, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
