package consensus

import (
	"bytes"
	"testing"

	"github.com/dure-network/dure/chain"
)

func FuzzDecodeEntry(f *testing.F) {
	c := chain.MustCodec()
	tv := makeVals(f, 1)
	v := tv.vote(c, 0, chain.Prevote, 3, 1, blockID("A"))
	p := chain.Proposal{Height: 3, Round: 1, POLRound: -1, BlockID: blockID("A"), Proposer: v.Validator, Sig: v.Sig}
	m := &Machine{codec: c}
	for _, e := range []*entry{
		{Kind: entryVote, Vote: &v},
		{Kind: entryOwnProposal, Proposal: &p},
		{Kind: entryTimeout, Height: 3, Round: 1, Step: StepPrevote},
		{Kind: entryValidated, BlockID: blockID("A"), Valid: true},
		{Kind: entryCommit, Commit: &chain.Commit{Height: 3, BlockID: blockID("A"), Sigs: []chain.CommitSig{{Validator: v.Validator, Sig: v.Sig}}}},
	} {
		f.Add(m.encodeEntry(e))
	}
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeEntry(c, data)
		if err != nil {
			return
		}
		// Accepted bytes are canonical: they re-encode identically.
		if !bytes.Equal(m.encodeEntry(e), data) {
			t.Fatal("accepted entry does not re-encode to the same bytes")
		}
	})
}

func FuzzDecodeLastSigned(f *testing.F) {
	c := chain.MustCodec()
	f.Add(LastSigned{}.Encode(c))
	f.Add(LastSigned{Height: 5, Round: 2, Step: StepPrecommit, SignHash: chain.Sum256([]byte("x")), Sig: make([]byte, chain.SigLen)}.Encode(c))
	f.Add([]byte{0x85, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		ls, err := DecodeLastSigned(c, data)
		if err != nil {
			return
		}
		if !bytes.Equal(ls.Encode(c), data) {
			t.Fatal("accepted record does not re-encode to the same bytes")
		}
	})
}
