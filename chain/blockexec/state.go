package blockexec

import (
	"errors"
	"fmt"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/chain/store"
)

// State is the committed chain as a block applies to it. It is a value:
// Apply returns a new one and never changes its argument (validator sets
// are shared, never mutated).
type State struct {
	ChainID string
	Head    store.Head
	// Validators sign Head.Height+1; NextValidators sign Head.Height+2
	// (updates decided at a height take effect two heights later).
	Validators     *chain.ValidatorSet
	NextValidators *chain.ValidatorSet
}

// ErrBadBlock is wrapped by Validate for a block that breaks the rules.
var ErrBadBlock = errors.New("invalid block")

// ErrClockAhead refuses a live proposal from the future. It is not a
// verdict on the block: once more than 2/3 commit it, it is applied.
var ErrClockAhead = errors.New("block time ahead of this node's clock")

// NextValidatorSet returns vs changed by ups (power 0 removes). A change
// that would empty the set is ignored: a chain with no validators could
// never make another block.
func NextValidatorSet(vs *chain.ValidatorSet, ups []chain.ValidatorUpdate) *chain.ValidatorSet {
	if len(ups) == 0 {
		return vs
	}
	byAddr := make(map[chain.Address]int, vs.Len())
	vals := append([]chain.Validator(nil), vs.Validators...)
	for i, v := range vals {
		byAddr[v.Address] = i
	}
	removed := make(map[chain.Address]bool)
	for _, u := range ups {
		a := u.PubKey.Address()
		if i, ok := byAddr[a]; ok {
			if u.Power == 0 {
				removed[a] = true
			} else {
				vals[i].Power = u.Power
				delete(removed, a)
			}
			continue
		}
		if u.Power > 0 {
			byAddr[a] = len(vals)
			vals = append(vals, chain.Validator{Address: a, PubKey: u.PubKey, Power: u.Power})
		}
	}
	kept := vals[:0]
	for _, v := range vals {
		if !removed[v.Address] {
			kept = append(kept, v)
		}
	}
	out, err := chain.NewValidatorSet(kept)
	if err != nil {
		return vs
	}
	return out
}

// CheckGenesisValidators makes sure the consensus set in genesis.json is
// want, the set the validator-set module derives from its own section
// (named section, for the message): two lists that disagree would split
// the chain at its first block.
func CheckGenesisValidators(g *genesis.Genesis, section string, want []chain.Validator) error {
	vs, err := g.ValidatorSet()
	if err != nil {
		return err
	}
	if len(want) != vs.Len() {
		return fmt.Errorf("%w: validators lists %d, app_state.%s gives %d", genesis.ErrInvalid, vs.Len(), section, len(want))
	}
	for i, w := range want {
		got := vs.Validators[i]
		if got.Address != w.Address || got.Power != w.Power || got.PubKey != w.PubKey {
			return fmt.Errorf("%w: validator %s: validators has power %d, app_state.%s gives %d", genesis.ErrInvalid, got.Address, got.Power, section, w.Power)
		}
	}
	return nil
}

// GenesisStore is what writing genesis needs from the block store.
type GenesisStore interface {
	CommitGenesis(genesisHash chain.Hash, vals *chain.ValidatorSet, stateRoot chain.Hash, extra func(w chain.KVWriter) error) error
}

// CommitGenesis runs the modules' genesis on st (empty) and commits it with
// the genesis validator set, and the set signing height 2 after the
// validator updates genesis reported. It returns the state root.
func CommitGenesis(c *chain.Codec, ex *execution.Executor, s GenesisStore, st *state.State, g *genesis.Genesis, genHash chain.Hash) (chain.Hash, error) {
	vals, err := g.ValidatorSet()
	if err != nil {
		return chain.Hash{}, err
	}
	info := chain.BlockInfo{ChainID: g.ChainID, Height: 0, Time: chain.TimeOf(g.GenesisTime)}
	out, err := ex.InitGenesis(st, info, g.AppState)
	if err != nil {
		return chain.Hash{}, fmt.Errorf("%w: genesis app_state: %w", ErrBadGenesis, err)
	}
	after := NextValidatorSet(vals, out.ValidatorUpdates)
	err = s.CommitGenesis(genHash, vals, out.StateRoot, func(w chain.KVWriter) error {
		if err := out.Pending.WriteTo(w); err != nil {
			return err
		}
		return store.PutAfterValidators(w, c, after)
	})
	if err != nil {
		return chain.Hash{}, fmt.Errorf("commit genesis: %w", err)
	}
	return out.StateRoot, nil
}

// ErrBadGenesis is wrapped by CommitGenesis when the modules refuse the
// genesis app_state.
var ErrBadGenesis = errors.New("genesis refused")

// Load is the State of a store's committed head.
func Load(chainID string, s *store.Store) (State, error) {
	head := s.Head()
	st := State{ChainID: chainID, Head: head}
	var err error
	if st.Validators, err = s.ValidatorsAt(head.Height + 1); err != nil {
		return State{}, fmt.Errorf("load validators for height %d: %w", head.Height+1, err)
	}
	if st.NextValidators, err = s.AfterValidators(); err != nil {
		return State{}, err
	}
	return st, nil
}
