package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/chain/store"
	"github.com/dure-network/dure/consensus"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/p2p"
)

// gossipSeeds are consensus envelopes of every kind, valid and not.
func gossipSeeds(t testing.TB) map[string][]byte {
	c := chain.MustCodec()
	key := gossipKey(t)
	self := key.PubKey().Address()
	block := chain.IDOf([]byte("block"))
	vote := chain.Vote{Type: chain.Prevote, Height: 7, Round: 1, BlockID: block, Validator: self}
	vote.Sig = key.Sign(vote.SignBytes(c, "t-1"))
	prop := chain.Proposal{Height: 7, Round: 0, POLRound: -1, BlockID: block, Proposer: self}
	prop.Sig = key.Sign(prop.SignBytes(c, "t-1"))
	pc := chain.Vote{Type: chain.Precommit, Height: 6, Round: 0, BlockID: block, Validator: self}
	pc.Sig = key.Sign(pc.SignBytes(c, "t-1"))
	commit := chain.Commit{Height: 6, Round: 0, BlockID: block, Sigs: []chain.CommitSig{{Validator: self, Sig: pc.Sig}}}
	forgedCommit := commit
	forgedCommit.Sigs = []chain.CommitSig{{Validator: self, Sig: vote.Sig}} // a prevote's signature
	badSig := vote
	badSig.Sig = bytes.Repeat([]byte{7}, chain.SigLen)
	farProp := prop
	farProp.Round = 1000
	farProp.Sig = key.Sign(farProp.SignBytes(c, "t-1"))
	enc := func(w wireMsg) []byte {
		b, err := c.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	stale, noSig, huge, zero := vote, vote, vote, vote
	stale.Height = 1
	noSig.Sig = nil
	huge.Height = math.MaxUint64
	zero.Height = 0
	ev := chain.Evidence{VoteA: vote, VoteB: vote}
	ev.VoteB.BlockID = chain.IDOf([]byte("other"))
	evb, _ := c.Marshal(ev)
	return map[string][]byte{
		"vote":          enc(wireMsg{Vote: &vote}),
		"proposal":      enc(wireMsg{Proposal: &prop}),
		"commit":        enc(wireMsg{Commit: &commit}),
		"commit-forged": enc(wireMsg{Commit: &forgedCommit}),
		"vote-bad-sig":  enc(wireMsg{Vote: &badSig}),
		"proposal-far":  enc(wireMsg{Proposal: &farProp}),
		"vote-stale":    enc(wireMsg{Vote: &stale}),
		"vote-no-sig":   enc(wireMsg{Vote: &noSig}),
		"vote-max-h":    enc(wireMsg{Vote: &huge}),
		"vote-height-0": enc(wireMsg{Vote: &zero}),
		"two-fields":    enc(wireMsg{Vote: &vote, Proposal: &prop}),
		"empty":         enc(wireMsg{}),
		"evidence":      evb,
		"not-cbor":      []byte("hello"),
	}
}

func testGossipNode(tb testing.TB, height uint64) *Node {
	st, err := store.Open(tb.TempDir(), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	n := &Node{codec: chain.MustCodec(), gen: &genesis.Genesis{ChainID: "t-1"}, store: st}
	n.head.Height = height
	// The seeds' signer validates the next two heights.
	k := gossipKey(nil)
	vs, err := chain.NewValidatorSet([]chain.Validator{{Address: k.PubKey().Address(), PubKey: k.PubKey(), Power: 1}})
	if err != nil {
		panic(err)
	}
	n.nextVals, n.afterVals = vs, vs
	return n
}

// gossipKey is the fixed validator key of the gossip seeds.
func gossipKey(t testing.TB) chain.PrivKey {
	k, err := chain.PrivKeyFromSeed(bytes.Repeat([]byte{42}, chain.SeedLen))
	if err != nil {
		panic(err)
	}
	return k
}

// FuzzConsensusGossip: the consensus topic's validator never panics, and
// whatever it lets through (Accept or Ignore) is one canonical envelope with
// exactly one message, which the driver's decoder reads the same way.
func FuzzConsensusGossip(f *testing.F) {
	for _, s := range gossipSeeds(f) {
		f.Add(s)
	}
	n := testGossipNode(f, 5)
	c := n.codec
	f.Fuzz(func(t *testing.T, data []byte) {
		v := n.validateConsensusGossip("", data)
		if v == p2p.Reject {
			return
		}
		var w wireMsg
		if err := c.UnmarshalCanonical(data, &w); err != nil {
			t.Fatalf("verdict %v for bytes that do not decode: %v", v, err)
		}
		set := 0
		for _, p := range []bool{w.Proposal != nil, w.Vote != nil, w.Commit != nil} {
			if p {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("verdict %v for an envelope with %d messages", v, set)
		}
		if w.Vote != nil && w.Vote.ValidateBasic() != nil {
			t.Fatalf("verdict %v for a malformed vote: %v", v, w.Vote.ValidateBasic())
		}
		re, err := c.Marshal(w)
		if err != nil || !bytes.Equal(re, data) {
			t.Fatalf("accepted bytes do not re-encode to themselves: %x vs %x (%v)", re, data, err)
		}
		var w2 wireMsg
		if err := c.Unmarshal(data, &w2); err != nil {
			t.Fatalf("driver decoder refuses accepted bytes: %v", err)
		}
	})
}

func TestConsensusGossipVerdicts(t *testing.T) {
	seeds := gossipSeeds(t)
	n := testGossipNode(t, 5)
	for name, want := range map[string]p2p.Verdict{
		"vote": p2p.Accept, "proposal": p2p.Accept, "commit": p2p.Accept,
		"commit-forged": p2p.Reject, "vote-bad-sig": p2p.Reject, "proposal-far": p2p.Ignore,
		"vote-stale": p2p.Ignore, "vote-no-sig": p2p.Reject, "vote-height-0": p2p.Reject,
		"two-fields": p2p.Reject, "empty": p2p.Reject, "evidence": p2p.Reject, "not-cbor": p2p.Reject,
	} {
		if got := n.validateConsensusGossip("", seeds[name]); got != want {
			t.Errorf("%s: verdict %v, want %v", name, got, want)
		}
	}
	// A vote from a key outside the validator set is refused (its sender
	// is penalised); one too far ahead to judge is ignored, not relayed.
	c := n.codec
	stranger := newKey(t)
	sv := chain.Vote{Type: chain.Prevote, Height: 6, Round: 0, BlockID: chain.IDOf([]byte("b")), Validator: stranger.PubKey().Address()}
	sv.Sig = stranger.Sign(sv.SignBytes(c, "t-1"))
	if b, _ := c.Marshal(wireMsg{Vote: &sv}); n.validateConsensusGossip("", b) != p2p.Reject {
		t.Errorf("vote from a non-validator not rejected")
	}
	fv := sv
	fv.Height = 1 << 40
	if b, _ := c.Marshal(wireMsg{Vote: &fv}); n.validateConsensusGossip("", b) != p2p.Ignore {
		t.Errorf("vote far in the future not ignored")
	}
	// Non-canonical encodings of a valid envelope are refused: the same
	// message must have one encoding, or dedup by hash breaks.
	vote := seeds["vote"]
	long := append([]byte{0x9f}, vote[1:]...) // definite → indefinite array
	long = append(long, 0xff)
	if got := n.validateConsensusGossip("", long); got != p2p.Reject {
		t.Errorf("indefinite-length envelope: %v, want Reject", got)
	}
}

// FuzzEvidenceGossip: the evidence validator never panics and only lets
// through canonical evidence about one validator at one height.
func FuzzEvidenceGossip(f *testing.F) {
	for _, s := range gossipSeeds(f) {
		f.Add(s)
	}
	n := testGossipNode(f, 5)
	f.Fuzz(func(t *testing.T, data []byte) {
		if n.validateEvidenceGossip("", data) == p2p.Reject {
			return
		}
		var ev chain.Evidence
		if err := n.codec.UnmarshalCanonical(data, &ev); err != nil {
			t.Fatalf("accepted evidence does not decode: %v", err)
		}
		if ev.VoteA.Validator != ev.VoteB.Validator || ev.VoteA.Height != ev.VoteB.Height {
			t.Fatalf("accepted evidence about two validators or heights: %+v", ev)
		}
	})
}

// FuzzNodeSubmit posts arbitrary bytes to a real node's POST /v1/txs (both
// content types): never a 5xx, always a JSON error code on 4xx, and the
// node keeps running.
func FuzzNodeSubmit(f *testing.F) {
	home, _ := initHome(f, "fz-1")
	tn := startNode(f, home)
	to := newKey(f).PubKey().Address()
	f.Add(sendTx(f, "fz-1", tn.Key, 0, 10, to, 1))
	f.Add(sendTx(f, "fz-1", tn.Key, 1<<40, 10, to, 1))
	f.Add(sendTx(f, "fz-1", newKey(f), 0, 10, to, 1)) // unfunded sender
	f.Add(sendTx(f, "other", tn.Key, 0, 10, to, 1))
	f.Add([]byte{0x86, 0x60, 0x40, 0x00, 0x00, 0x80, 0x40})
	f.Add([]byte(`{"tx":"hKBA"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ct := range []string{"application/cbor", "application/json"} {
			resp, err := http.Post(tn.Base+"/v1/txs", ct, bytes.NewReader(body))
			if err != nil {
				t.Fatalf("node unreachable: %v", err)
			}
			var eb api.ErrorBody
			status := resp.StatusCode
			derr := jsonDecode(resp, &eb)
			if status >= 500 {
				t.Fatalf("%s: %d %+v", ct, status, eb)
			}
			if status >= 400 && (derr != nil || eb.Error.Code == "") {
				t.Fatalf("%s: %d without a JSON error code (%v)", ct, status, derr)
			}
		}
	})
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return err
	}
	return json.Unmarshal(buf.Bytes(), v)
}

// TestWriteFuzzSeeds regenerates testdata/fuzz seed files from gossipSeeds
// when DURE_WRITE_FUZZ_SEEDS=1; the files are kept in the repository.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("DURE_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set DURE_WRITE_FUZZ_SEEDS=1 to regenerate testdata/fuzz")
	}
	for _, target := range []string{"FuzzConsensusGossip", "FuzzEvidenceGossip"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range gossipSeeds(t) {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Blocks are relayed only as the scheduled proposer's signed proposal.
func TestBlockGossipVerdicts(t *testing.T) {
	n := testGossipNode(t, 5)
	c := n.codec
	key := gossipKey(t)
	self := key.PubKey().Address()
	stranger := newKey(t)
	mk := func(h uint64, round uint32, proposer chain.Address, signer chain.PrivKey, mutate func(*chain.ProposedBlock)) []byte {
		b := shapedBlock(c, h, 1, proposer)
		raw, err := c.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		p := chain.Proposal{Height: h, Round: round, POLRound: -1, BlockID: b.Header.ID(c), Proposer: proposer}
		p.Sig = signer.Sign(p.SignBytes(c, "t-1"))
		pb := chain.ProposedBlock{Proposal: p, Block: raw}
		if mutate != nil {
			mutate(&pb)
		}
		out, err := c.Marshal(pb)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	bare, _ := c.Marshal(shapedBlock(c, 6, 1, self))
	for _, tc := range []struct {
		name string
		data []byte
		want p2p.Verdict
	}{
		{"scheduled proposer, signed", mk(6, 0, self, key, nil), p2p.Accept},
		{"next-but-one height", mk(7, 2, self, key, nil), p2p.Accept},
		{"bare block without proposal", bare, p2p.Reject},
		{"validator named, stranger's signature", mk(6, 0, self, stranger, nil), p2p.Reject},
		{"stranger as proposer", mk(6, 0, stranger.PubKey().Address(), stranger, nil), p2p.Reject},
		{"zero signature", mk(6, 0, self, key, func(pb *chain.ProposedBlock) { pb.Proposal.Sig = make([]byte, chain.SigLen) }), p2p.Reject},
		{"proposal names another block", mk(6, 0, self, key, func(pb *chain.ProposedBlock) { pb.Proposal.BlockID = chain.IDOf([]byte("x")) }), p2p.Reject},
		{"far future round", mk(6, 1000, self, key, nil), p2p.Ignore},
		{"stale height", mk(5, 0, self, key, nil), p2p.Ignore},
		{"not cbor", []byte("block"), p2p.Reject},
	} {
		if got := n.validateBlockGossip("", tc.data); got != tc.want {
			t.Errorf("%s: verdict %v, want %v", tc.name, got, tc.want)
		}
	}
}

// With two validators, only the one scheduled for (height, round) may
// propose it: the other's correctly signed proposal is refused.
func TestBlockGossipRefusesUnscheduledProposer(t *testing.T) {
	n := testGossipNode(t, 5)
	c := n.codec
	a, b := gossipKey(t), newKey(t)
	vs, err := chain.NewValidatorSet([]chain.Validator{{Address: a.PubKey().Address(), PubKey: a.PubKey(), Power: 1},
		{Address: b.PubKey().Address(), PubKey: b.PubKey(), Power: 1}})
	if err != nil {
		t.Fatal(err)
	}
	n.nextVals, n.afterVals = vs, vs
	sched := consensus.NewProposerSchedule(vs)
	keys := map[chain.Address]chain.PrivKey{a.PubKey().Address(): a, b.PubKey().Address(): b}
	for round := uint32(0); round < 4; round++ {
		for addr, k := range keys {
			blk := shapedBlock(c, 6, int64(round)+1, addr)
			raw, _ := c.Marshal(blk)
			p := chain.Proposal{Height: 6, Round: round, POLRound: -1, BlockID: blk.Header.ID(c), Proposer: addr}
			p.Sig = k.Sign(p.SignBytes(c, "t-1"))
			data, _ := c.Marshal(chain.ProposedBlock{Proposal: p, Block: raw})
			want := p2p.Reject
			if sched.Proposer(6, round) == addr {
				want = p2p.Accept
			}
			if got := n.validateBlockGossip("", data); got != want {
				t.Errorf("round %d, proposer %s: verdict %v, want %v", round, addr, got, want)
			}
		}
	}
}

// shapedBlock is an empty block of chain t-1 that passes ValidateBasic: a
// last commit (unsigned) naming a made-up parent.
func shapedBlock(c *chain.Codec, h uint64, at int64, proposer chain.Address) chain.Block {
	parent := chain.IDOf([]byte("parent"))
	lc := &chain.Commit{Height: h - 1, BlockID: parent}
	return chain.Block{Header: chain.Header{ChainID: "t-1", Height: h, Time: chain.Time(at), Parent: parent, TxRoot: chain.TxRoot(nil),
		Proposer: proposer, LastCommitHash: chain.CommitHash(c, lc)}, LastCommit: lc}
}
