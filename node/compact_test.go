package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/keystore"
	"github.com/dure-network/dure/p2p"
)

const compactChain = "compact-1"

var _ compactTransport = gossipTransport{} // the libp2p transport gossips compact proposals

// compactSetup is a proposer and a full node on one genesis, on real
// Badger, with a block of signed transfers the proposer built (executed,
// not committed) and its signed proposal.
type compactSetup struct {
	prop, recv *Node
	vkey       chain.PrivKey
	raws       [][]byte
	cand       *candidate
	proposal   chain.Proposal
}

func newCompactSetup(t testing.TB, senders int) *compactSetup {
	t.Helper()
	_, pcfg := initHome(t, compactChain)
	_, rcfg := initHome(t, compactChain)
	pcfg.Consensus.TimeoutPropose = "60s" // no block-size budget in the way
	ks, err := keystore.Open(pcfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := ks.Signer("validator")
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]chain.PrivKey, senders)
	accts := make([]GenesisAccount, senders)
	for i := range keys {
		var seed [chain.SeedLen]byte
		binary.BigEndian.PutUint64(seed[:], uint64(i)+77)
		keys[i], _ = chain.PrivKeyFromSeed(seed[:])
		accts[i] = GenesisAccount{Addr: keys[i].PubKey().Address(), Amount: 1_000_000_000}
	}
	gen, err := BuildGenesis(compactChain, time.Now().Add(-time.Hour), []GenesisValidator{{PubKey: vkey.PubKey(), Stake: DefaultValidatorStake}}, accts)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{pcfg.GenesisPath(), rcfg.GenesisPath()} {
		if err := gen.Write(path); err != nil {
			t.Fatal(err)
		}
	}
	s := &compactSetup{vkey: vkey}
	log := slog.New(slog.DiscardHandler)
	if s.prop, err = Open(context.Background(), pcfg, log, vkey); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.prop.closeStorage)
	if s.recv, err = Open(context.Background(), rcfg, log, chain.PrivKey{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.recv.closeStorage)
	c := s.prop.codec
	for j, k := range keys {
		m, _ := currency.MsgSend(c, keys[(j+1)%len(keys)].PubKey().Address(), NativeDenom, uint64(j%7+1))
		tx := chain.Tx{ChainID: compactChain, Nonce: 0, MaxFee: 10, Msgs: []chain.Msg{m}}
		raw, err := tx.Sign(c, k)
		if err != nil {
			t.Fatal(err)
		}
		s.raws = append(s.raws, raw)
	}
	if _, errs := s.prop.pool.AddBatch(s.raws); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if s.cand, err = s.prop.buildBlock(1, nil); err != nil {
		t.Fatal(err)
	}
	if len(s.cand.block.Txs) != senders {
		t.Fatalf("block has %d txs, want %d", len(s.cand.block.Txs), senders)
	}
	s.prop.recent.put(s.cand)
	s.proposal = chain.Proposal{Height: 1, POLRound: -1, BlockID: s.cand.id, Proposer: s.prop.self}
	s.proposal.Sig = vkey.Sign(s.proposal.SignBytes(c, compactChain))
	return s
}

func (s *compactSetup) compact(t testing.TB) []byte {
	t.Helper()
	data, err := encodeCompact(s.prop.codec, &s.proposal, s.cand.block, s.cand.txs)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestCompactProposalRebuildsTheProposersBlock is the differential check:
// the block a full node rebuilds from a compact proposal and its mempool
// has the proposer's exact bytes and ID, executes to the same state root,
// results and events as the whole block gossiped as before, and is stored
// byte for byte as the proposer stores it.
func TestCompactProposalRebuildsTheProposersBlock(t *testing.T) {
	s := newCompactSetup(t, 400)
	c := s.recv.codec
	if _, errs := s.recv.pool.AddBatch(s.raws); errs[0] != nil {
		t.Fatal(errs[0])
	}
	data := s.compact(t)
	full, err := c.Marshal(chain.ProposedBlock{Proposal: s.proposal, Block: s.cand.raw})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compact proposal %d bytes, whole block %d bytes (%.1f×)", len(data), len(full), float64(len(full))/float64(len(data)))
	if len(data)*4 > len(full) {
		t.Fatalf("compact proposal of %d bytes is not a quarter of the block's %d", len(data), len(full))
	}
	if v := s.recv.validateCompactGossip("", data); v != p2p.Accept {
		t.Fatalf("gossip verdict %v, want Accept", v)
	}
	cb, err := decodeCompact(c, data)
	if err != nil {
		t.Fatal(err)
	}
	raws, txs, missing := s.recv.fromMempool(cb)
	if len(missing) != 0 {
		t.Fatalf("%d txs missing from a mempool that has them all", len(missing))
	}
	got, err := candidateOf(c, cb, raws, txs)
	if err != nil {
		t.Fatal(err)
	}
	if got.id != s.cand.id || !bytes.Equal(got.raw, s.cand.raw) {
		t.Fatalf("rebuilt block %s (%d bytes), proposer's %s (%d bytes)", got.id, len(got.raw), s.cand.id, len(s.cand.raw))
	}
	// The rebuilt candidate carries the root assemble checked, so
	// validation does not hash the txs again; it must be the txs' root.
	if got.txRoot == nil || *got.txRoot != chain.TxRoot(got.block.Txs) {
		t.Fatalf("rebuilt candidate's tx root %v, its txs give %s", got.txRoot, chain.TxRoot(got.block.Txs))
	}
	// The old path: the whole block, decoded from the gossip message.
	pb, b, err := chain.DecodeProposedBlock(c, full)
	if err != nil {
		t.Fatal(err)
	}
	old := &candidate{id: pb.Proposal.BlockID, block: b, raw: pb.Block}
	outOld, err := s.recv.checkBlock(old, true)
	if err != nil {
		t.Fatal(err)
	}
	outNew, err := s.recv.checkBlock(got, true)
	if err != nil {
		t.Fatal(err)
	}
	got.out = outNew
	encOld, _ := c.Marshal(outOld.Results)
	encNew, _ := c.Marshal(outNew.Results)
	encProp, _ := c.Marshal(s.cand.out.Results)
	switch {
	case outOld.StateRoot != outNew.StateRoot || outNew.StateRoot != s.cand.out.StateRoot:
		t.Fatalf("state roots: old path %s, compact %s, proposer %s", outOld.StateRoot, outNew.StateRoot, s.cand.out.StateRoot)
	case outOld.ResultsRoot != outNew.ResultsRoot || outNew.ResultsRoot != s.cand.out.ResultsRoot:
		t.Fatal("results roots differ")
	case !bytes.Equal(encOld, encNew) || !bytes.Equal(encNew, encProp):
		t.Fatal("tx results (events) differ")
	}
	for i, r := range outNew.Results {
		if r.Code != chain.CodeOK {
			t.Fatalf("tx %d: code %d %s", i, r.Code, r.Log)
		}
	}
	cm := &chain.Commit{Height: 1, BlockID: s.cand.id, Sigs: []chain.CommitSig{{Validator: s.prop.self,
		Sig: s.vkey.Sign(chain.VoteSignBytes(c, compactChain, chain.Precommit, 1, 0, s.cand.id))}}}
	if err := s.prop.applyBlock(s.cand, cm); err != nil {
		t.Fatal(err)
	}
	if err := s.recv.applyBlock(got, cm); err != nil {
		t.Fatal(err)
	}
	pRaw, pCm, err := blockSource{s.prop}.BlockAndCommit(1)
	if err != nil {
		t.Fatal(err)
	}
	rRaw, rCm, err := blockSource{s.recv}.BlockAndCommit(1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pRaw, rRaw) || !bytes.Equal(pCm, rCm) {
		t.Fatal("stored block or commit differs between proposer and compact receiver")
	}
	if s.prop.head != s.recv.head {
		t.Fatalf("heads differ: proposer %+v, receiver %+v", s.prop.head, s.recv.head)
	}
}

// TestCompactProposalWithAWrongListIsNotInstalled: a host republishing a
// real proposal with its own tx list (here two txs swapped, and one
// replaced) passes the gossip check (the proposal is genuine) but the
// rebuilt root differs, so no block comes of it.
func TestCompactProposalWithAWrongListIsNotInstalled(t *testing.T) {
	s := newCompactSetup(t, 50)
	c := s.recv.codec
	if _, errs := s.recv.pool.AddBatch(s.raws); errs[0] != nil {
		t.Fatal(errs[0])
	}
	cb, err := decodeCompact(c, s.compact(t))
	if err != nil {
		t.Fatal(err)
	}
	swapped := bytes.Clone(cb.TxHashes)
	copy(swapped[:32], cb.TxHashes[32:64])
	copy(swapped[32:64], cb.TxHashes[:32])
	cb.TxHashes = swapped
	lie, err := c.Marshal(cb)
	if err != nil {
		t.Fatal(err)
	}
	if v := s.recv.validateCompactGossip("", lie); v != p2p.Accept {
		t.Fatalf("verdict %v: the proposal is genuine", v)
	}
	raws, txs, missing := s.recv.fromMempool(cb)
	if len(missing) != 0 {
		t.Fatal("txs missing")
	}
	if _, err := candidateOf(c, cb, raws, txs); !errors.Is(err, errListMismatch) {
		t.Fatalf("err = %v, want errListMismatch", err)
	}
	// Tampering with the signed part is a Reject.
	cb.Header.Time++
	bad, _ := c.Marshal(cb)
	if v := s.recv.validateCompactGossip("", bad); v != p2p.Reject {
		t.Fatalf("altered header: verdict %v, want Reject", v)
	}
}

// fillNet starts real libp2p hosts for the proposer and the receiver,
// connected, each serving fills from its mempool and recent blocks.
func fillNet(t *testing.T, s *compactSetup) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, n := range []*Node{s.prop, s.recv} {
		if err := n.startP2P(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.net.Close() })
	}
	if err := s.recv.net.Connect(ctx, s.prop.net.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
}

// liarFill is a fill server that answers wrong txs and wrong blocks.
type liarFill struct{ delay time.Duration }

func (l liarFill) Txs(keys [][]byte) [][]byte {
	time.Sleep(l.delay)
	out := make([][]byte, len(keys))
	for i := range keys {
		out[i] = []byte("not the tx you asked for")
	}
	return out
}

func (l liarFill) Block([]byte) []byte { time.Sleep(l.delay); return []byte("not a block") }

// liarPeer is a bare p2p node connected to n; fill, if set, serves the
// fill protocol, and raw, if set, replaces it with a stream handler.
func liarPeer(t *testing.T, n *Node, fill p2p.FillSource, raw network.StreamHandler) peer.ID {
	t.Helper()
	ignore := func(peer.ID, []byte) p2p.Verdict { return p2p.Ignore }
	ln, err := p2p.New(context.Background(), p2p.Config{ChainID: compactChain, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}},
		p2p.Deps{ValidateTxs: p2p.PerTx(func([]byte) p2p.Verdict { return p2p.Ignore }), ValidateConsensus: ignore,
			ValidateBlock: ignore, ValidateEvidence: ignore, Fill: fill})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	if raw != nil {
		ln.Host().SetStreamHandler(p2p.BlockFillProtocol(compactChain), raw)
	}
	if err := n.net.Connect(context.Background(), ln.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	return ln.ID()
}

// oversize answers every fill request with one frame past any limit.
func oversize(s network.Stream) {
	defer s.Close()
	r := bufio.NewReader(s)
	l, _ := binary.ReadUvarint(r)
	_, _ = r.Discard(int(l))
	big := make([]byte, chain.MaxBlockBytes+1)
	_, _ = s.Write(binary.AppendUvarint(nil, uint64(len(big))))
	_, _ = s.Write(big)
}

// TestCompactFillOverLibp2p: a receiver missing some txs fetches them, one
// missing all gets the whole block, and peers that lie (wrong txs, wrong
// blocks, oversize answers, slow answers) are skipped within their time
// bound, the block coming from the honest peer; with only liars the run
// ends in its bound with no block.
func TestCompactFillOverLibp2p(t *testing.T) {
	s := newCompactSetup(t, 300)
	fillNet(t, s)
	c := s.recv.codec
	cb, err := decodeCompact(c, s.compact(t))
	if err != nil {
		t.Fatal(err)
	}
	honest := s.prop.net.ID()
	check := func(t *testing.T, got *candidate, err error, wantTxs bool) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if got.err != nil || got.id != s.cand.id || !bytes.Equal(got.raw, s.cand.raw) {
			t.Fatalf("filled block %s (err %v), want the proposer's %s", got.id, got.err, s.cand.id)
		}
		if (got.txs != nil) != wantTxs {
			t.Fatalf("block came as txs = %v, want %v", got.txs != nil, wantTxs)
		}
	}
	ctx := context.Background()

	t.Run("missing all: the block", func(t *testing.T) {
		raws, txs, missing := s.recv.fromMempool(cb)
		if len(missing) != cb.count() {
			t.Fatalf("%d missing of %d", len(missing), cb.count())
		}
		got, err := s.recv.fill(ctx, cb, raws, txs, missing, []peer.ID{honest}, honest, false)
		check(t, got, err, false)
	})

	liars := []peer.ID{
		liarPeer(t, s.recv, liarFill{}, nil),
		liarPeer(t, s.recv, nil, oversize),
		liarPeer(t, s.recv, liarFill{delay: 3 * time.Second}, nil),
	}
	t.Run("liars only: no block, in bounded time", func(t *testing.T) {
		raws, txs, missing := s.recv.fromMempool(cb)
		start := time.Now()
		got, err := s.recv.fill(ctx, cb, raws, txs, missing, liars, liars[0], false)
		if err == nil || got != nil {
			t.Fatalf("got a block from liars: %v", got)
		}
		if took := time.Since(start); took > 2*fillPeerTimeout+time.Second {
			t.Fatalf("took %s", took)
		}
		t.Logf("gave up after %s: %v", time.Since(start).Round(time.Millisecond), err)
	})

	if _, errs := s.recv.pool.AddBatch(s.raws[:len(s.raws)*3/4]); errs[0] != nil {
		t.Fatal(errs[0])
	}
	t.Run("missing some: the txs, past the liars", func(t *testing.T) {
		raws, txs, missing := s.recv.fromMempool(cb)
		if len(missing) == 0 || len(missing)*2 > cb.count() {
			t.Fatalf("%d missing of %d", len(missing), cb.count())
		}
		start := time.Now()
		got, err := s.recv.fill(ctx, cb, raws, txs, missing, append(liars[:3:3], honest), liars[0], false)
		check(t, got, err, true)
		if took := time.Since(start); took > fillPeerTimeout+time.Second {
			t.Fatalf("took %s", took)
		}
		if out, err := s.recv.checkBlock(got, true); err != nil || out.StateRoot != s.cand.block.Header.StateRoot {
			t.Fatalf("filled block does not validate: %v", err)
		}
	})

	t.Run("a list that lies: the whole block, not from its author", func(t *testing.T) {
		lie := *cb
		lie.TxHashes = bytes.Clone(cb.TxHashes)
		n := lie.count()
		copy(lie.TxHashes[:32], cb.TxHashes[(n-1)*32:])
		copy(lie.TxHashes[(n-1)*32:], cb.TxHashes[:32])
		raws, txs, missing := s.recv.fromMempool(&lie)
		got, err := s.recv.fill(ctx, &lie, raws, txs, missing, []peer.ID{liars[0], honest}, liars[0], false)
		check(t, got, err, false)
		if got.via != "fetched" {
			t.Fatalf("came %s, want fetched whole", got.via)
		}
		// Known to lie from the start: its author is not asked.
		raws, txs, _ = s.recv.fromMempool(&lie)
		if got, err := s.recv.fill(ctx, &lie, raws, txs, nil, []peer.ID{honest}, honest, true); err == nil {
			t.Fatalf("asked the list's author: got %v", got.id)
		}
	})
}

// FuzzDecodeCompact: anything decodes to a compact proposal whose proposal
// names its header, whose hash list is whole digests within the block
// limit and which re-encodes to the input, or fails as a malformed block.
func FuzzDecodeCompact(f *testing.F) {
	c := chain.MustCodec()
	h := chain.Header{ChainID: compactChain, Height: 3, Time: 5}
	p := chain.Proposal{Height: 3, POLRound: -1, BlockID: h.ID(c)}
	seed, err := c.Marshal(compactBlock{Version: compactVersion, Proposal: p, Header: h, TxHashes: bytes.Repeat([]byte{9}, 64)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		cb, err := decodeCompact(c, data)
		if err != nil {
			if !errors.Is(err, chain.ErrBlockMalformed) {
				t.Fatalf("error not ErrBlockMalformed: %v", err)
			}
			return
		}
		if cb.Proposal.BlockID != cb.Header.ID(c) || len(cb.TxHashes)%32 != 0 || cb.count() > chain.MaxTxsPerBlock {
			t.Fatal("decoded a compact proposal that breaks its checks")
		}
		again, err := c.Marshal(cb)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatal("does not re-encode to the input")
		}
	})
}

// TestTxIDPrefix: a tx ID is txIDPrefix and the SHA-256 of the tx, which
// is what lets the compact form carry only the digest.
func TestTxIDPrefix(t *testing.T) {
	for _, raw := range [][]byte{nil, []byte("tx"), bytes.Repeat([]byte{1}, 5000)} {
		sum := chain.Sum256(raw)
		if chain.IDOf(raw) != txIDOfDigest(sum[:]) {
			t.Fatalf("IDOf(%d bytes) is not the prefix and the digest", len(raw))
		}
	}
}

// TestCompactGossipVerdicts: a compact proposal is relayed only as the
// scheduled proposer's signed proposal of its header, as a whole block is.
func TestCompactGossipVerdicts(t *testing.T) {
	s := newCompactSetup(t, 10)
	c := s.recv.codec
	good, err := decodeCompact(c, s.compact(t))
	if err != nil {
		t.Fatal(err)
	}
	other := newKey(t)
	enc := func(mut func(cb *compactBlock)) []byte {
		cb := *good
		mut(&cb)
		data, err := c.Marshal(cb)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	tests := []struct {
		name string
		data []byte
		want p2p.Verdict
	}{
		{"genuine", enc(func(*compactBlock) {}), p2p.Accept},
		{"signed by another key", enc(func(cb *compactBlock) {
			cb.Proposal.Sig = other.Sign(cb.Proposal.SignBytes(c, compactChain))
		}), p2p.Reject},
		{"unscheduled proposer", enc(func(cb *compactBlock) {
			cb.Proposal.Proposer = other.PubKey().Address()
			cb.Proposal.Sig = other.Sign(cb.Proposal.SignBytes(c, compactChain))
		}), p2p.Reject},
		{"other version", enc(func(cb *compactBlock) { cb.Version = 2 }), p2p.Reject},
		{"a partial hash", enc(func(cb *compactBlock) { cb.TxHashes = cb.TxHashes[:len(cb.TxHashes)-1] }), p2p.Reject},
		{"a commit the header does not name", enc(func(cb *compactBlock) { cb.LastCommit = &chain.Commit{Height: 1} }), p2p.Reject},
		{"undecodable", []byte("junk"), p2p.Reject},
	}
	for _, tc := range tests {
		if v := s.recv.validateCompactGossip("", tc.data); v != tc.want {
			t.Errorf("%s: verdict %v, want %v", tc.name, v, tc.want)
		}
	}
	// A height far ahead is not checkable yet: ignored, not relayed.
	far := *good
	far.Header.Height, far.Proposal.Height = 9, 9
	far.Proposal.BlockID = far.Header.ID(c)
	data, _ := c.Marshal(far)
	if v := s.recv.validateCompactGossip("", data); v != p2p.Ignore {
		t.Errorf("height 9 on head 0: verdict %v, want Ignore", v)
	}
}
