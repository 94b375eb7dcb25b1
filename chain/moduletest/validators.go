package moduletest

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/blockexec"
)

// ErrGenesisValidators is returned by TryNew when the validator-set
// owner's GenesisValidators disagrees with the updates its InitGenesis
// reported (a node would refuse such a genesis: genesis.json's validators
// are checked against the former and the chain starts from the latter).
var ErrGenesisValidators = errors.New("moduletest: genesis validators disagree with InitGenesis")

// genesisValidators starts the validator sets when a module holds
// chain.ValidatorSetOwner: its GenesisValidators sign heights 1, and the
// set after genesis's updates height 2, as blockexec.CommitGenesis does.
func (h *Harness) genesisValidators(gen map[string]json.RawMessage, ups []chain.ValidatorUpdate) error {
	h.sets = nil
	for _, m := range h.cfg.Modules {
		owner, ok := m.(chain.ValidatorSetOwner)
		if !ok {
			continue
		}
		vals, err := owner.GenesisValidators(gen[m.Name()])
		if err != nil {
			return fmt.Errorf("genesis validators of %s: %w", m.Name(), err)
		}
		vs, err := chain.NewValidatorSet(vals)
		if err != nil {
			return fmt.Errorf("genesis validators of %s: %w", m.Name(), err)
		}
		reported := map[chain.Address]chain.ValidatorUpdate{}
		for _, u := range ups {
			if u.Power > 0 {
				reported[u.PubKey.Address()] = u
			} else {
				delete(reported, u.PubKey.Address())
			}
		}
		if len(reported) != vs.Len() {
			return fmt.Errorf("%w: %d from GenesisValidators, %d reported", ErrGenesisValidators, vs.Len(), len(reported))
		}
		for _, v := range vs.Validators {
			if u, ok := reported[v.Address]; !ok || u.Power != v.Power || u.PubKey != v.PubKey {
				return fmt.Errorf("%w: validator %s: power %d, reported %d", ErrGenesisValidators, v.Address, v.Power, u.Power)
			}
		}
		h.sets = []*chain.ValidatorSet{nil, vs, blockexec.NextValidatorSet(vs, ups)}
	}
	return nil
}

// rotate records the set of height+2 after a block's updates (the block
// at height+1 is being committed): updates decided at H sign from H+2.
func (h *Harness) rotate(ups []chain.ValidatorUpdate) {
	if h.sets == nil {
		return
	}
	h.sets = append(h.sets, blockexec.NextValidatorSet(h.sets[len(h.sets)-1], ups))
}

// Validators is the consensus set signing height (1 ≤ height ≤
// Height()+2, as a node knows it), with the owner's updates applied two
// heights after the block that decided them; nil for other heights or
// when no module holds chain.ValidatorSetOwner.
func (h *Harness) Validators(height uint64) *chain.ValidatorSet {
	if height == 0 || height >= uint64(len(h.sets)) {
		return nil
	}
	return h.sets[height]
}

// inputs resolves in for the block at height: the signers of the
// previous height's commit (its set minus Absent) and the evidence, both
// checked.
func (h *Harness) inputs(height uint64, in Inputs) ([]chain.Address, []chain.Evidence) {
	h.t.Helper()
	var signers []chain.Address
	if prev := h.Validators(height - 1); prev != nil {
		absent := map[chain.Address]bool{}
		for _, a := range in.Absent {
			if _, _, ok := prev.ByAddress(a); !ok {
				h.t.Fatalf("moduletest: block %d: absent %s is not in the set that signed height %d", height, a, height-1)
			}
			absent[a] = true
		}
		for _, v := range prev.Validators {
			if !absent[v.Address] {
				signers = append(signers, v.Address)
			}
		}
	} else if len(in.Absent) > 0 && height > 1 {
		h.t.Fatalf("moduletest: block %d: absent signers, but no module owns the validator set", height)
	}
	ev := append([]chain.Evidence(nil), in.Evidence...)
	h.checkInputs(chain.BlockInfo{Height: height, LastCommitSigners: signers, Evidence: ev})
	return signers, ev
}

// checkInputs fails the test for inputs no node would give a block:
// signers outside the previous height's set or twice, evidence that does
// not verify against the set of its height or is out of range.
func (h *Harness) checkInputs(info chain.BlockInfo) {
	h.t.Helper()
	if len(info.LastCommitSigners) > 0 {
		prev := h.Validators(info.Height - 1)
		seen := map[chain.Address]bool{}
		for _, a := range info.LastCommitSigners {
			if prev == nil {
				h.t.Fatalf("moduletest: block %d: last commit signers, but no set signed height %d", info.Height, info.Height-1)
			}
			if _, _, ok := prev.ByAddress(a); !ok || seen[a] {
				h.t.Fatalf("moduletest: block %d: signer %s is not in the set of height %d, or is listed twice", info.Height, a, info.Height-1)
			}
			seen[a] = true
		}
	}
	for i := range info.Evidence {
		ev := &info.Evidence[i]
		eh := ev.VoteA.Height
		if eh == 0 || eh > info.Height || eh+blockexec.MaxEvidenceAge < info.Height {
			h.t.Fatalf("moduletest: block %d: evidence %d of height %d out of range", info.Height, i, eh)
		}
		vs := h.Validators(eh)
		if vs == nil {
			h.t.Fatalf("moduletest: block %d: evidence %d, but no validator set for height %d", info.Height, i, eh)
		}
		if err := ev.Verify(h.codec, h.cfg.ChainID, vs); err != nil {
			h.t.Fatalf("moduletest: block %d: evidence %d does not verify: %v", info.Height, i, err)
		}
	}
}
