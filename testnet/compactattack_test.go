package testnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/consensus"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/keystore"
	"github.com/dure-network/dure/p2p"
)

// compactEnvelope mirrors a compact-topic message (version 1): a CBOR
// array of version, signed proposal, header, parent commit, evidence and
// the concatenated SHA-256 of the block's txs. Written from the wire
// format, not from the node's own type.
type compactEnvelope struct {
	_          struct{} `cbor:",toarray"`
	Version    uint64
	Proposal   chain.Proposal
	Header     chain.Header
	LastCommit *chain.Commit
	Evidence   []chain.Evidence
	TxHashes   []byte
}

// hungFill is a fill server that takes every request and never answers.
type hungFill struct{ asked atomic.Int64 }

func (h *hungFill) Txs(keys [][]byte) [][]byte {
	h.asked.Add(1)
	time.Sleep(20 * time.Second)
	return make([][]byte, len(keys))
}

func (h *hungFill) Block([]byte) []byte { h.asked.Add(1); time.Sleep(20 * time.Second); return nil }

// compactTap collects the genuine compact proposals an attacker hears
// (it relays none of them).
type compactTap struct {
	mu   sync.Mutex
	seen []compactEnvelope
	ids  map[chain.ID]bool
	news chan compactEnvelope // the first message heard for each block ID
}

func newCompactTap() *compactTap {
	return &compactTap{ids: map[chain.ID]bool{}, news: make(chan compactEnvelope, 16)}
}

func (c *compactTap) deps(codec *chain.Codec) func(*p2p.Deps) {
	return func(d *p2p.Deps) {
		d.ValidateCompact = func(_ peer.ID, data []byte) p2p.Verdict {
			var e compactEnvelope
			if codec.UnmarshalCanonical(data, &e) == nil {
				c.mu.Lock()
				first := !c.ids[e.Proposal.BlockID]
				if first {
					c.ids[e.Proposal.BlockID] = true
					c.seen = append(c.seen, e)
				}
				c.mu.Unlock()
				if first {
					select {
					case c.news <- e:
					default:
					}
				}
			}
			return p2p.Ignore
		}
	}
}

// old is a genuine compact proposal at least two heights below head.
func (c *compactTap) old(head uint64) (compactEnvelope, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.seen {
		if e.Header.Height+2 <= head {
			return e, true
		}
	}
	return compactEnvelope{}, false
}

func (a *attacker) publishCompact(ctx context.Context, kind string, e compactEnvelope) {
	data, err := a.codec.Marshal(e)
	if err != nil {
		a.t.Fatal(err)
	}
	if a.PublishCompact(ctx, data) == nil {
		a.sent[kind]++
	}
}

// lies republishes a genuine compact proposal under the attacker's own
// authorship: once as is (its author is asked first for what a node
// lacks, and never answers), once with two tx hashes swapped and once
// with every hash replaced (the header's tx root refutes both).
func (a *attacker) lies(ctx context.Context, e compactEnvelope) {
	a.publishCompact(ctx, "copy", e)
	if len(e.TxHashes) >= 64 {
		sw := e
		sw.TxHashes = bytes.Clone(e.TxHashes)
		copy(sw.TxHashes[:32], e.TxHashes[32:64])
		copy(sw.TxHashes[32:64], e.TxHashes[:32])
		a.publishCompact(ctx, "swapped list", sw)
	}
	rnd := e
	rnd.TxHashes = make([]byte, max(len(e.TxHashes), 32*50))
	_, _ = rand.Read(rnd.TxHashes)
	a.publishCompact(ctx, "unknown txs", rnd)
}

// junk publishes compact messages the gossip validators refuse or ignore:
// a proposal signed by the attacker's key and one unsigned for head+1, a
// list past MaxTxsPerBlock, a far-future height, and a replay of an old
// genuine one.
func (a *attacker) junk(ctx context.Context, tap *compactTap, head uint64, parent chain.ID, i int) {
	val := a.vals[i%len(a.vals)].Address
	forged := func(h uint64, signed bool, hashes []byte) compactEnvelope {
		lc := &chain.Commit{Height: h - 1, BlockID: parent}
		hd := chain.Header{ChainID: a.chain, Height: h, Time: chain.TimeOf(time.Now()), Parent: parent,
			TxRoot: chain.TxRoot(nil), Proposer: val, LastCommitHash: chain.CommitHash(a.codec, lc), EvidenceHash: chain.EvidenceHash(a.codec, nil)}
		prop := chain.Proposal{Height: h, POLRound: -1, BlockID: hd.ID(a.codec), Proposer: val, Sig: make([]byte, chain.SigLen)}
		if signed {
			prop.Sig = a.key.Sign(prop.SignBytes(a.codec, a.chain))
		}
		return compactEnvelope{Version: 1, Proposal: prop, Header: hd, LastCommit: lc, TxHashes: hashes}
	}
	a.publishCompact(ctx, "forged", forged(head+1, true, nil))
	a.publishCompact(ctx, "unsigned", forged(head+1, false, nil))
	a.publishCompact(ctx, "far future", forged(head+1000, false, nil))
	if i%5 == 0 {
		a.publishCompact(ctx, "oversized list", forged(head+1, true, make([]byte, 32*(chain.MaxTxsPerBlock+1))))
	}
	if e, ok := tap.old(head); ok {
		a.publishCompact(ctx, "replay", e)
	}
}

// fillFlood keeps two streams per node asking for MaxFillKeys unknown
// txs and two streams per node open without finishing a request
// (slowloris), until ctx ends; it returns the requests answered.
func fillFlood(ctx context.Context, a *attacker, chainID string) (answered, held uint64) {
	var ans, hold atomic.Uint64
	req := []byte{1}
	req = binary.AppendUvarint(req, p2p.MaxFillKeys)
	key := make([]byte, 32)
	for i := range p2p.MaxFillKeys {
		binary.BigEndian.PutUint64(key, uint64(i)+0xa77ac)
		req = append(req, 32)
		req = append(req, key...)
	}
	frame := append(binary.AppendUvarint(nil, uint64(len(req))), req...)
	var wg sync.WaitGroup
	for _, p := range a.Peers() {
		for j := range 4 {
			wg.Add(1)
			go func(p peer.ID, slowloris bool) {
				defer wg.Done()
				for ctx.Err() == nil {
					s, err := a.Host().NewStream(ctx, p, p2p.BlockFillProtocol(chainID))
					if err != nil {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					_ = s.SetDeadline(time.Now().Add(10 * time.Second))
					if slowloris {
						_, _ = s.Write(frame[:3]) // then nothing
						buf := make([]byte, 1)
						_, _ = s.Read(buf)
						hold.Add(1)
						_ = s.Reset()
						continue
					}
					if _, err := s.Write(frame); err == nil {
						_ = s.CloseWrite()
						buf := make([]byte, 64<<10)
						for {
							if _, err := s.Read(buf); err != nil {
								break
							}
						}
						ans.Add(1)
					}
					_ = s.Close()
				}
			}(p.ID, j >= 2)
		}
	}
	wg.Wait()
	return ans.Load(), hold.Load()
}

// Two peers with no validator key attack the compact-proposal path while
// real transfers flow. The first republishes every genuine compact
// proposal under its own authorship as is (then never answers the fills
// it is asked first for), with a swapped tx list and with a list of txs
// nobody has: the chain keeps its pace and every node penalises it below
// the graylist threshold for the lists its header refutes. The second
// publishes forged, unsigned, oversized, far-future and replayed compact
// messages and floods every node's fill protocol with 20,000-key requests
// and slowloris streams: the chain keeps its pace, the nodes' CPU stays
// within a bound and the chain agrees everywhere.
func TestCompactAttackersCannotHaltChain(t *testing.T) {
	slow(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	n.waitHeight(ctx, 30*time.Second, 2, n.Procs...)
	cpu := func() uint64 {
		var sum uint64
		for _, p := range n.Procs {
			sum += cpuTicks(p.PID())
		}
		return sum
	}
	var real []chain.ID
	traffic := func(i int) {
		if i%4 == 0 {
			real = append(real, n.send(ctx, n.wallets[(i/4)%len(n.wallets)], n.Procs[(i/4)%len(n.Procs)], 3)...)
		}
	}
	const window = 8 * time.Second
	h0, c0 := maxHeight(ctx, n.Procs...), cpu()
	for i := 0; time.Duration(i)*100*time.Millisecond < window; i++ {
		traffic(i)
		time.Sleep(100 * time.Millisecond)
	}
	normal, normalCPU := maxHeight(ctx, n.Procs...)-h0, cpu()-c0
	if normal < 3 {
		t.Fatalf("only %d blocks in %v before any attack", normal, window)
	}

	tap, junkTap := newCompactTap(), newCompactTap()
	hung := &hungFill{}
	liar := newAttackerAt(ctx, t, n, "127.0.0.2", func(d *p2p.Deps) { tap.deps(n.codec)(d); d.Fill = hung })
	junk := newAttackerAt(ctx, t, n, "127.0.0.3", junkTap.deps(n.codec))
	eventually(ctx, t, 20*time.Second, "attackers connected to every node", func() bool {
		return len(liar.Peers()) == len(n.Procs) && len(junk.Peers()) == len(n.Procs)
	}, nil)
	time.Sleep(time.Second) // topic subscriptions and mesh

	const attack = 12 * time.Second
	check := func(what string, made uint64) {
		t.Helper()
		expect := uint64(float64(normal) * float64(attack) / float64(window))
		if made < expect/2 {
			t.Errorf("%s: chain slowed: %d blocks in %v, normal pace gives %d", what, made, attack, expect)
		}
	}

	// The liar.
	start, h1 := time.Now(), maxHeight(ctx, n.Procs...)
	for i := 0; time.Since(start) < attack; i++ {
		select {
		case e := <-tap.news:
			liar.lies(ctx, e)
		case <-time.After(100 * time.Millisecond):
		}
		traffic(i)
	}
	made := maxHeight(ctx, n.Procs...) - h1
	t.Logf("liar: sent %v over %v; %d blocks (unattacked %d per %v); its fill server was asked %d times",
		liar.sent, attack, made, normal, window, hung.asked.Load())
	check("liar", made)
	self := liar.ID().String()
	for _, p := range n.Procs {
		var last map[string]float64
		eventually(ctx, t, 10*time.Second, p.Node.Name+" graylists the compact liar", func() bool {
			s, err := peerScores(ctx, p)
			last = s
			return err == nil && s[self] < p2p.GraylistThreshold
		}, func() string { return fmt.Sprintf("scores of %s's peers (liar %s): %v", p.Node.Name, self, last) })
	}

	// The junk and the fill flood.
	fctx, fcancel := context.WithTimeout(ctx, attack)
	defer fcancel()
	var answered, held uint64
	flooded := make(chan struct{})
	go func() { answered, held = fillFlood(fctx, junk, n.chainID); close(flooded) }()
	start, h2, c2 := time.Now(), maxHeight(ctx, n.Procs...), cpu()
	var rss uint64
	for i := 0; time.Since(start) < attack; i++ {
		p := n.Procs[i%len(n.Procs)]
		head, err := p.Height(ctx)
		if err != nil {
			t.Fatalf("%s: %v", p.Node.Name, err)
		}
		blk, err := p.Client.Block(ctx, head)
		if err != nil {
			t.Fatalf("block %d: %v", head, err)
		}
		junk.junk(ctx, junkTap, head, blk.ID, i)
		traffic(i)
		for _, p := range n.Procs {
			rss = max(rss, rssMiB(p.PID()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	<-flooded
	made, floodCPU := maxHeight(ctx, n.Procs...)-h2, cpu()-c2
	t.Logf("junk: sent %v over %v; fill flood: %d requests answered, %d slowloris streams ended; %d blocks; nodes' CPU %d ticks (unattacked %d per %v); peak RSS %d MiB",
		junk.sent, attack, answered, held, made, floodCPU, normalCPU, window, rss)
	check("junk and fill flood", made)
	perSec := func(ticks uint64, d time.Duration) float64 { return float64(ticks) / d.Seconds() }
	if perSec(floodCPU, attack) > 3*perSec(normalCPU, window)+50 {
		t.Errorf("nodes' CPU under the junk and fill flood: %.0f ticks/s, unattacked %.0f", perSec(floodCPU, attack), perSec(normalCPU, window))
	}
	if rss > 1024 {
		t.Errorf("a node grew to %d MiB under the attack", rss)
	}
	for _, p := range n.Procs {
		if !p.Running() {
			t.Fatalf("%s exited under the attack", p.Node.Name)
		}
	}
	n.waitCommitted(ctx, 30*time.Second, n.Procs[0], real)
	top := n.minHeight(ctx, n.Procs...)
	n.checkAgreement(ctx, 1, top, n.Procs...)
	n.checkTxs(ctx, real, n.Procs...)
}

// withheldCompact is a compact proposal by val for height h on parent,
// signed with key, of k txs that nobody but its author ever had (random
// bytes with their true tx root): every receiver must fill it and nobody
// can.
func (a *attacker) withheldCompact(key chain.PrivKey, val chain.Address, h uint64, round uint32, parent chain.ID, k int) compactEnvelope {
	raws := make([][]byte, k)
	hashes := make([]byte, 0, 32*k)
	for i := range raws {
		raws[i] = make([]byte, 180)
		_, _ = rand.Read(raws[i])
		sum := chain.Sum256(raws[i])
		hashes = append(hashes, sum[:]...)
	}
	lc := &chain.Commit{Height: h - 1, BlockID: parent}
	hd := chain.Header{ChainID: a.chain, Height: h, Time: chain.TimeOf(time.Now()), Parent: parent,
		TxRoot: chain.TxRoot(raws), Proposer: val, LastCommitHash: chain.CommitHash(a.codec, lc), EvidenceHash: chain.EvidenceHash(a.codec, nil)}
	prop := chain.Proposal{Height: h, Round: round, POLRound: -1, BlockID: hd.ID(a.codec), Proposer: val}
	prop.Sig = key.Sign(prop.SignBytes(a.codec, a.chain))
	return compactEnvelope{Version: 1, Proposal: prop, Header: hd, LastCommit: lc, TxHashes: hashes}
}

// One validator of four (under 1/3 of the power) turns byzantine: its
// node stops and the attacker signs with its key. At each of its turns
// to propose (heights and rounds from the proposer schedule) it publishes
// two conflicting compact proposals (equivocation) of 200 txs nobody has,
// and answers no fill (its fill server hangs). Every honest node must try
// to fill them; the chain keeps at least half the pace it has with the
// validator merely stopped, real transfers commit, the nodes agree, and
// their CPU stays within a bound.
func TestByzantineCompactProposerCannotHaltChain(t *testing.T) {
	slow(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	n.waitHeight(ctx, 30*time.Second, 2, n.Procs...)
	byz, honest := n.Procs[3], n.Procs[:3]
	cfg, err := config.Load(filepath.Join(byz.Node.Home, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ks.Signer(cfg.PrivValidatorKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := byz.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	cpu := func() uint64 {
		var sum uint64
		for _, p := range honest {
			sum += cpuTicks(p.PID())
		}
		return sum
	}
	var real []chain.ID
	traffic := func(i int) {
		if i%4 == 0 {
			real = append(real, n.send(ctx, n.wallets[(i/4)%len(n.wallets)], honest[(i/4)%len(honest)], 3)...)
		}
	}
	const window = 10 * time.Second
	h0, c0 := maxHeight(ctx, honest...), cpu()
	for i := 0; time.Duration(i)*100*time.Millisecond < window; i++ {
		traffic(i)
		time.Sleep(100 * time.Millisecond)
	}
	stopped, stoppedCPU := maxHeight(ctx, honest...)-h0, cpu()-c0
	if stopped < 3 {
		t.Fatalf("only %d blocks in %v with one validator stopped", stopped, window)
	}

	a := newAttackerAt(ctx, t, n, "127.0.0.4", func(d *p2p.Deps) {
		d.Fill = &hungFill{}
		d.ValidateCompact = func(peer.ID, []byte) p2p.Verdict { return p2p.Ignore }
	})
	eventually(ctx, t, 20*time.Second, "byzantine host connected to the honest nodes", func() bool {
		return len(a.Peers()) >= len(honest)
	}, nil)
	time.Sleep(time.Second)
	vals, err := honest[0].Client.Validators(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := chain.NewValidatorSet(vals.Validators)
	if err != nil {
		t.Fatal(err)
	}
	sched := consensus.NewProposerSchedule(vs)
	self := key.PubKey().Address()
	done := map[[2]uint64]bool{}
	turns := 0
	start, h1, c1 := time.Now(), maxHeight(ctx, honest...), cpu()
	for i := 0; time.Since(start) < window; i++ {
		p := honest[i%len(honest)]
		head, err := p.Height(ctx)
		if err != nil {
			t.Fatalf("%s: %v", p.Node.Name, err)
		}
		blk, err := p.Client.Block(ctx, head)
		if err != nil {
			t.Fatalf("block %d: %v", head, err)
		}
		for r := uint32(0); r < 3; r++ {
			k := [2]uint64{head + 1, uint64(r)}
			if sched.Proposer(head+1, r) != self || done[k] {
				continue
			}
			done[k] = true
			turns++
			for range 2 {
				a.publishCompact(ctx, "withheld", a.withheldCompact(key, self, head+1, r, blk.ID, 200))
			}
		}
		traffic(i)
		time.Sleep(50 * time.Millisecond)
	}
	made, attackCPU := maxHeight(ctx, honest...)-h1, cpu()-c1
	t.Logf("byzantine proposer: %d turns, sent %v in %v; %d blocks (%d with the validator stopped); honest nodes' CPU %d ticks (%d stopped)",
		turns, a.sent, window, made, stopped, attackCPU, stoppedCPU)
	if turns == 0 || a.sent["withheld"] == 0 {
		t.Fatalf("the byzantine validator published %d proposals in %d turns", a.sent["withheld"], turns)
	}
	if made*2 < stopped {
		t.Errorf("chain slowed by the byzantine proposer: %d blocks in %v, %d with it stopped", made, window, stopped)
	}
	if attackCPU > 3*stoppedCPU+500 {
		t.Errorf("honest nodes' CPU under the byzantine proposer: %d ticks, %d with it stopped", attackCPU, stoppedCPU)
	}
	for _, p := range honest {
		if !p.Running() {
			t.Fatalf("%s exited", p.Node.Name)
		}
	}
	n.waitCommitted(ctx, 30*time.Second, honest[0], real)
	top := n.minHeight(ctx, honest...)
	n.checkAgreement(ctx, 1, top, honest...)
	n.checkTxs(ctx, real, honest...)
}
