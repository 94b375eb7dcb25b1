package subnet

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/light"
)

// Re-trust: a subnet whose trusted parent header is older than the trusting
// period can verify no parent header any more (a header signed by a set
// that has since unbonded proves nothing). Its own validators then vote it
// a new trusted parent header, each checked by them out of band (`dure
// subnet retrust --trust height:block_id`, which checks the header's
// commit at a parent node): once validators of the subnet holding more
// than 2/3 of its active power (Validators, apps/staking) voted for the
// same header, it is trusted and relaying goes on from it, with the
// deposits applied so far unchanged. The subnet's own validators can
// already do anything to its state; this gives them only what they would
// otherwise need a new genesis for. A vote is refused while the trust has
// not expired, so the parent's signatures stay the only way forward then.

// TypeRetrust: subnet, a validator's vote for a new trusted parent header.
const TypeRetrust = "retrust"

// Sentinel errors of re-trust.
var (
	ErrTrustNotExpired = errors.New("subnet: the trusted parent header has not expired: relay parent headers instead")
	ErrNotValidator    = errors.New("subnet: only the subnet's active validators vote a re-trust")
	ErrNoValidators    = errors.New("subnet: this chain's module was built without its validator set (re-trust disabled)")
)

// Validators is the chain's own active validator set as its state holds it
// (apps/staking satisfies it).
type Validators interface {
	ActiveValidators(ctx *chain.Context) ([]chain.Validator, error)
}

// WithValidators lets the module count its chain's validators (for
// re-trust); without it re-trust is refused.
func (m *Module) WithValidators(v Validators) *Module {
	m.vals = v
	return m
}

// Retrust is a vote for trusting the parent header at Height with BlockID,
// Time and StateRoot, whose next set is NextValidators, in place of the
// expired one (the TopDownGenesis fields `dure subnet follow --trust`
// prints).
type Retrust struct {
	_              struct{}          `cbor:",toarray"`
	Height         uint64            `json:"height"`
	BlockID        chain.ID          `json:"block_id"`
	Time           chain.Time        `json:"time"`
	StateRoot      chain.Hash        `json:"state_root"`
	NextValidators []chain.Validator `json:"next_validators"`
}

func MsgRetrust(c *chain.Codec, r Retrust) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeRetrust, r)
}

var prefixRetrust = []byte("v/") // v/<proposal hash><addr> → marker: a validator's re-trust vote

// retrustID names a proposal within the expired trust it replaces, so
// votes cast against one expired header never count against a later one.
func (m *Module) retrustID(td *TopDownState, r *Retrust) (chain.Hash, error) {
	b, err := m.codec.Marshal(r)
	if err != nil {
		return chain.Hash{}, err
	}
	var h bytes.Buffer
	h.WriteString("dure/subnet/retrust/v1")
	h.Write(be(td.Height))
	h.WriteString(string(td.BlockID))
	h.Write(b)
	return chain.Sum256(h.Bytes()), nil
}

func (m *Module) retrust(ctx *chain.Context, kv chain.KVStore, r *Retrust) error {
	if m.vals == nil {
		return invalid(ErrNoValidators)
	}
	td, err := m.topDownState(kv)
	if err != nil {
		return err
	}
	if age := ctx.Block.Time.Sub(td.Time); age <= 0 || uint64(age) <= td.TrustingPeriodNs {
		return invalid(fmt.Errorf("%w: parent header %d is %s old, the trusting period %s", ErrTrustNotExpired, td.Height, max(age, 0), time.Duration(td.TrustingPeriodNs)))
	}
	switch {
	case r.Height <= td.Height:
		return invalid(fmt.Errorf("%w: re-trust height %d, at or below the trusted %d", ErrParentHeader, r.Height, td.Height))
	case r.BlockID.IsZero():
		return invalid(fmt.Errorf("%w: re-trust needs the header's block_id", ErrParentHeader))
	case r.Time.Sub(ctx.Block.Time) > light.MaxClockDrift || (ctx.Block.Time.Sub(r.Time) > 0 && uint64(ctx.Block.Time.Sub(r.Time)) > td.TrustingPeriodNs):
		return invalid(fmt.Errorf("%w: re-trust header time %s: not within the trusting period before this block (or ahead of it)", ErrParentHeader, r.Time))
	}
	if _, err := valSet(r.NextValidators); err != nil {
		return invalid(fmt.Errorf("%w: re-trust next validators: %w", ErrParentHeader, err))
	}
	vals, err := m.vals.ActiveValidators(ctx)
	if err != nil {
		return err
	}
	power := make(map[chain.Address]uint64, len(vals))
	var total uint64
	for _, v := range vals {
		power[v.Address] = v.Power
		total += v.Power
	}
	if power[ctx.Sender] == 0 {
		return fmt.Errorf("%w: %w: %s", chain.ErrUnauthorized, ErrNotValidator, ctx.Sender)
	}
	id, err := m.retrustID(td, r)
	if err != nil {
		return err
	}
	prefix := append(bytes.Clone(prefixRetrust), id[:]...)
	if err := kv.Set(append(bytes.Clone(prefix), ctx.Sender[:]...), marker); err != nil {
		return err
	}
	// The votes for this proposal, counted at the active set of now.
	var voted uint64
	var keys [][]byte
	if err := kv.Iterate(prefix, func(k, _ []byte) (bool, error) {
		var a chain.Address
		copy(a[:], k[len(prefix):])
		voted += power[a]
		keys = append(keys, bytes.Clone(k))
		return false, nil
	}); err != nil {
		return err
	}
	if err := ctx.Emit("subnet.retrust.vote", chain.Attr{Key: "parent_height", Value: u64s(r.Height)},
		chain.Attr{Key: "voter", Value: ctx.Sender.String()}, chain.Attr{Key: "power", Value: u64s(voted)},
		chain.Attr{Key: "total", Value: u64s(total)}); err != nil {
		return err
	}
	if 3*voted <= 2*total {
		return nil
	}
	for _, k := range keys {
		if err := kv.Delete(k); err != nil {
			return err
		}
	}
	td.Height, td.BlockID, td.Time, td.StateRoot, td.NextValidators = r.Height, r.BlockID, r.Time, r.StateRoot, r.NextValidators
	if err := m.put(kv, keyTopDown, td); err != nil {
		return err
	}
	return ctx.Emit("subnet.retrust", chain.Attr{Key: "parent_height", Value: u64s(r.Height)},
		chain.Attr{Key: "block_id", Value: r.BlockID.String()}, chain.Attr{Key: "power", Value: u64s(voted)},
		chain.Attr{Key: "total", Value: u64s(total)})
}

// RetrustOf is the vote trusting the header st (as light.After leaves it)
// with its state root.
func RetrustOf(st light.TrustedState, root chain.Hash) Retrust {
	return Retrust{Height: st.Height, BlockID: st.BlockID, Time: st.Time, StateRoot: root, NextValidators: st.NextValidators}
}
