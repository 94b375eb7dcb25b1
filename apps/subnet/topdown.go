package subnet

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/light"
	"github.com/dure-network/dure/chain/state"
)

// Top-down: the subnet follows its parent's headers with a light client
// kept in its own state, and mints the deposits the parent recorded, each
// exactly once, in nonce order.
//
// On the parent, every deposit record carries Acc, a hash chain through
// all the subnet's deposits so far (DepositAcc). One state proof of the
// record of deposit n against a verified parent header then proves every
// deposit from the subnet's last applied one up to n: the subnet
// recomputes the chain from its own stored Acc over the deposits the
// topdown message lists and must reach the proven record's Acc.

// Message types of the top-down path (subnet side).
const (
	TypeTopDown = "topdown" // subnet: parent light blocks + a state proof of deposits; mints them
	TypeRetry   = "retry"   // subnet: the sender of a parked deposit mints it again (to a new recipient)
	TypeReturn  = "return"  // subnet: the sender of a parked deposit takes it back on the parent (outbox)
	TypeReclaim = "reclaim" // parent: a halted subnet's deposit parked at its last checkpoint, back to its sender by proof
	// DepositDomain tags the deposit hash chain.
	DepositDomain = "dure/subnet/deposits/v1"
	// MaxTopDownBlocks and MaxTopDownDeposits bound one topdown message.
	MaxTopDownBlocks   = 16
	MaxTopDownDeposits = 256
	// DefaultTrustingPeriod is how long (subnet block time) the subnet
	// trusts a parent header without a newer one (as chain/light).
	DefaultTrustingPeriod = light.DefaultTrustingPeriod
)

// Sentinel errors of the top-down path.
var (
	ErrNoTopDown     = errors.New("subnet: this chain follows no parent (no topdown section in its genesis)")
	ErrParentHeader  = errors.New("subnet: parent header refused")
	ErrStaleTopDown  = errors.New("subnet: topdown proves deposits against a parent header below the trusted one")
	ErrDepositChain  = errors.New("subnet: deposits do not chain to the proven parent record")
	ErrDepositGap    = errors.New("subnet: deposits do not start at the next unapplied nonce")
	ErrNotParked     = errors.New("subnet: no such parked deposit")
	ErrNotDepositor  = errors.New("subnet: only the deposit's sender may retry or return it")
	errTopDownShape  = errors.New("subnet: malformed topdown message")
	errBadRecipient  = errors.New("recipient is the zero address")
	errModuleAccount = errors.New("recipient is a module account on the subnet")
)

// TopDownState is the subnet's view of its parent (key "t"): the trusted
// parent header, as chain/light keeps it, plus its state root, and how far
// the subnet has applied the parent's deposits.
type TopDownState struct {
	_ struct{} `cbor:",toarray"`
	// Subnet is this chain's id on the parent; ParentChainID the parent's.
	Subnet        string `json:"subnet"`
	ParentChainID string `json:"parent_chain_id"`
	// TrustingPeriodNs: a trusted header older than this (in subnet block
	// time) can no longer be moved from.
	TrustingPeriodNs uint64 `json:"trusting_period_ns"`
	// The trusted parent header: height (0: the parent's genesis), block
	// ID, time, state root, and the set signing Height+1.
	Height         uint64            `json:"height"`
	BlockID        chain.ID          `json:"block_id"`
	Time           chain.Time        `json:"time"`
	StateRoot      chain.Hash        `json:"state_root"`
	NextValidators []chain.Validator `json:"next_validators"`
	// Applied is the number of the parent's deposits consumed (minted or
	// parked), Acc the deposit hash chain through the last of them.
	Applied uint64     `json:"applied"`
	Acc     chain.Hash `json:"acc"`
	// Minted is the value minted from deposits, Parked the value waiting
	// in the inbox, Returned the value sent back to the parent.
	Minted   uint64 `json:"minted"`
	Parked   uint64 `json:"parked"`
	Returned uint64 `json:"returned"`
}

func (td *TopDownState) trusted() light.TrustedState {
	return light.TrustedState{ChainID: td.ParentChainID, Height: td.Height, BlockID: td.BlockID, Time: td.Time, NextValidators: td.NextValidators}
}

// TopDownGenesis is the "topdown" part of a subnet's genesis section: the
// parent it follows, trusted from its genesis (height 0, its genesis time
// and validators) or from a checkpoint header got out of band.
type TopDownGenesis struct {
	Subnet        string            `json:"subnet"`
	ParentChainID string            `json:"parent_chain_id"`
	Height        uint64            `json:"height"`
	BlockID       chain.ID          `json:"block_id,omitempty"`
	Time          chain.Time        `json:"time"`
	StateRoot     chain.Hash        `json:"state_root,omitempty"`
	Validators    []chain.Validator `json:"validators"` // the set signing Height+1
	// TrustingPeriodSeconds (0: 14 days).
	TrustingPeriodSeconds uint64 `json:"trusting_period_seconds,omitempty"`
}

func (g *TopDownGenesis) state() (*TopDownState, error) {
	if err := validID(g.Subnet); err != nil {
		return nil, err
	}
	if g.ParentChainID == "" {
		return nil, errors.New("topdown: parent_chain_id is required")
	}
	vs, err := chain.NewValidatorSet(g.Validators)
	if err != nil {
		return nil, fmt.Errorf("topdown: validators: %w", err)
	}
	if g.Height > 0 && g.BlockID.IsZero() {
		return nil, errors.New("topdown: a trusted height above 0 needs its block_id")
	}
	tp := uint64(DefaultTrustingPeriod)
	if g.TrustingPeriodSeconds > 0 {
		if g.TrustingPeriodSeconds > 1<<33 {
			return nil, errors.New("topdown: trusting_period_seconds too large")
		}
		tp = g.TrustingPeriodSeconds * uint64(time.Second)
	}
	return &TopDownState{Subnet: g.Subnet, ParentChainID: g.ParentChainID, TrustingPeriodNs: tp, Height: g.Height,
		BlockID: g.BlockID, Time: g.Time, StateRoot: g.StateRoot, NextValidators: vs.Validators}, nil
}

// ParentBlock is one parent header with the commit that finalised it, the
// set that signed it and the set signing the next height (empty: the same
// set), as a light client is served them.
type ParentBlock struct {
	_              struct{}          `cbor:",toarray"`
	Header         chain.Header      `json:"header"`
	Commit         chain.Commit      `json:"commit"`
	Validators     []chain.Validator `json:"validators"`
	NextValidators []chain.Validator `json:"next_validators,omitempty"`
}

// TopDown (on the subnet) moves the trusted parent header forward through
// Blocks (each verified from the one before as chain/light does:
// sequentially, or skipping when ≥1/3 of the trusted power signed) and
// applies Deposits, the parent's records of consecutive nonces, proven by
// Proof: the state proof of the last one's record against the state root
// of the last block (or of the trusted header when Blocks is empty).
// Anyone may send it; a message with nothing new is a no-op.
type TopDown struct {
	_        struct{}      `cbor:",toarray"`
	Blocks   []ParentBlock `json:"blocks"`
	Deposits []Deposit     `json:"deposits"`
	Proof    state.Proof   `json:"proof"`
}

// Parked is a deposit the subnet could not mint, kept in its inbox (key
// "i/" nonce) until its sender retries or returns it.
type Parked struct {
	_       struct{} `cbor:",toarray"`
	Deposit Deposit  `json:"deposit"`
	Reason  string   `json:"reason"`
	Height  uint64   `json:"height"` // subnet height it was parked at
}

// Retry mints a parked deposit again, to To (zero: its recipient).
type Retry struct {
	_     struct{}      `cbor:",toarray"`
	Nonce uint64        `json:"nonce"`
	To    chain.Address `json:"to"`
}

// Return sends a parked deposit back to its sender on the parent: a
// withdrawal in the outbox, released on the parent by proof.
type Return struct {
	_     struct{} `cbor:",toarray"`
	Nonce uint64   `json:"nonce"`
}

// Reclaim (on the parent) returns to its sender a deposit that a halted
// subnet applied but had parked in its inbox at its last checkpoint:
// Value is the subnet's inbox entry (Parked) under the checkpointed state
// root, Proof its state proof. Anyone may send it; the value goes only to
// the deposit's sender.
type Reclaim struct {
	_      struct{}    `cbor:",toarray"`
	Subnet string      `json:"subnet"`
	Nonce  uint64      `json:"nonce"`
	Value  []byte      `json:"value"`
	Proof  state.Proof `json:"proof"`
}

func MsgReclaim(c *chain.Codec, r Reclaim) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeReclaim, r)
}

// InboxStateKey is a subnet's full state key (module prefix included) of
// its inbox entry for a parked deposit: what a reclaim proof names.
func InboxStateKey(nonce uint64) []byte {
	return append([]byte(parentPrefix), inboxKey(nonce)...)
}

func MsgTopDown(c *chain.Codec, t TopDown) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeTopDown, t)
}
func MsgRetry(c *chain.Codec, nonce uint64, to chain.Address) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeRetry, Retry{Nonce: nonce, To: to})
}
func MsgReturn(c *chain.Codec, nonce uint64) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeReturn, Return{Nonce: nonce})
}

var (
	keyTopDown   = []byte("t")
	prefixInbox  = []byte("i/") // i/<nonce BE> → Parked (subnet side)
	parentPrefix = ModuleName + "/"
)

func inboxKey(n uint64) []byte { return append(bytes.Clone(prefixInbox), be(n)...) }

// DepositStateKey is the parent's full state key (module prefix included)
// of a subnet's deposit record: what a topdown proof names.
func DepositStateKey(id string, nonce uint64) []byte {
	return append([]byte(parentPrefix), depKey(id, nonce)...)
}

// depositLeaf is what the hash chain covers of a deposit: every field
// but the chain value itself and the refund mark.
type depositLeaf struct {
	_            struct{} `cbor:",toarray"`
	Subnet       string
	Nonce        uint64
	From         chain.Address
	To           chain.Address
	Amount       uint64
	ParentHeight uint64
}

// ChainDeposit is the hash chain after d, given the chain before it.
func ChainDeposit(c *chain.Codec, prev chain.Hash, id string, d *Deposit) chain.Hash {
	b, err := c.Marshal(depositLeaf{Subnet: id, Nonce: d.Nonce, From: d.From, To: d.To, Amount: d.Amount, ParentHeight: d.ParentHeight})
	if err != nil {
		panic(err) // fixed shape
	}
	h := sha256.New()
	h.Write([]byte(DepositDomain))
	h.Write(prev[:])
	h.Write(b)
	var out chain.Hash
	h.Sum(out[:0])
	return out
}

func (m *Module) topDownState(r chain.KVReader) (*TopDownState, error) {
	var td TopDownState
	ok, err := m.get(r, keyTopDown, &td)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid(ErrNoTopDown)
	}
	return &td, nil
}

func valSet(vals []chain.Validator) (*chain.ValidatorSet, error) {
	vs, err := chain.NewValidatorSet(vals)
	if err != nil {
		return nil, err
	}
	if !slicesEqualVals(vs.Validators, vals) {
		return nil, errors.New("validators not sorted by address")
	}
	return vs, nil
}

// topdown verifies parent blocks and deposits and applies the deposits.
func (m *Module) topdown(ctx *chain.Context, kv chain.KVStore, b *TopDown) error {
	td, err := m.topDownState(kv)
	if err != nil {
		return err
	}
	switch {
	case len(b.Blocks) > MaxTopDownBlocks:
		return invalid(fmt.Errorf("%w: %d blocks, at most %d", errTopDownShape, len(b.Blocks), MaxTopDownBlocks))
	case len(b.Deposits) > MaxTopDownDeposits:
		return invalid(fmt.Errorf("%w: %d deposits, at most %d", errTopDownShape, len(b.Deposits), MaxTopDownDeposits))
	case len(b.Blocks) == 0 && len(b.Deposits) == 0:
		return invalid(fmt.Errorf("%w: neither blocks nor deposits", errTopDownShape))
	}
	for i := range b.Deposits {
		if b.Deposits[i].Nonce != b.Deposits[0].Nonce+uint64(i) {
			return invalid(fmt.Errorf("%w: deposit %d has nonce %d, want consecutive nonces", errTopDownShape, i, b.Deposits[i].Nonce))
		}
	}
	top := td.Height
	if n := len(b.Blocks); n > 0 {
		top = b.Blocks[n-1].Header.Height
	}
	fresh := len(b.Deposits) > 0 && b.Deposits[len(b.Deposits)-1].Nonce >= td.Applied
	if top <= td.Height && !fresh {
		// Nothing new: succeed before any signature or proof is checked,
		// so racing relayers cost each other little.
		return ctx.Emit("subnet.topdown.duplicate", chain.Attr{Key: "parent_height", Value: u64s(top)},
			chain.Attr{Key: "trusted", Value: u64s(td.Height)}, chain.Attr{Key: "applied", Value: u64s(td.Applied)})
	}
	if age := ctx.Block.Time.Sub(td.Time); age > 0 && uint64(age) > td.TrustingPeriodNs {
		return invalid(fmt.Errorf("%w: %w: trusted parent header %d is %s old", ErrParentHeader, light.ErrTrustExpired, td.Height, age))
	}
	// Blocks at or below the trusted height were verified already (a
	// relayer raced this one); the rest move the trust forward.
	blocks := b.Blocks
	proofAtTrusted := len(blocks) == 0
	for len(blocks) > 0 && blocks[0].Header.Height <= td.Height {
		if len(blocks) == 1 {
			hdr := &blocks[0].Header
			proofAtTrusted = hdr.Height == td.Height && hdr.ID(m.codec) == td.BlockID
		}
		blocks = blocks[1:]
	}
	if len(blocks) == 0 && !proofAtTrusted && fresh {
		return invalid(fmt.Errorf("%w: proven at parent height %d, trusted %d", ErrStaleTopDown, top, td.Height))
	}
	for i := range blocks {
		if err := m.advanceParent(ctx, td, &blocks[i]); err != nil {
			return err
		}
	}
	minted, parked, err := m.applyDeposits(ctx, kv, td, b)
	if err != nil {
		return err
	}
	if err := m.put(kv, keyTopDown, td); err != nil {
		return err
	}
	return ctx.Emit("subnet.topdown", chain.Attr{Key: "parent_height", Value: u64s(td.Height)},
		chain.Attr{Key: "applied", Value: u64s(td.Applied)}, chain.Attr{Key: "minted", Value: u64s(minted)},
		chain.Attr{Key: "parked", Value: u64s(parked)})
}

// advanceParent verifies pb from td's trusted header and trusts it.
func (m *Module) advanceParent(ctx *chain.Context, td *TopDownState, pb *ParentBlock) error {
	h := &pb.Header
	if err := ctx.Gas.Consume(uint64(len(pb.Commit.Sigs))*GasPerSignature, "parent commit signatures"); err != nil {
		return err
	}
	vs, err := valSet(pb.Validators)
	if err != nil {
		return invalid(fmt.Errorf("%w: %d: validators: %w", ErrParentHeader, h.Height, err))
	}
	next := vs
	if len(pb.NextValidators) > 0 {
		if next, err = valSet(pb.NextValidators); err != nil {
			return invalid(fmt.Errorf("%w: %d: next validators: %w", ErrParentHeader, h.Height, err))
		}
	}
	lb := &light.LightBlock{Header: *h, Commit: &pb.Commit, Validators: vs}
	if err := light.VerifyStep(m.codec, td.trusted(), lb, light.DefaultTrustLevel, ctx.Block.Time); err != nil {
		return invalid(fmt.Errorf("%w: %w", ErrParentHeader, err))
	}
	st, err := light.After(m.codec, lb, next)
	if err != nil {
		return invalid(fmt.Errorf("%w: %w", ErrParentHeader, err))
	}
	td.Height, td.BlockID, td.Time, td.StateRoot, td.NextValidators = st.Height, st.BlockID, st.Time, h.StateRoot, st.NextValidators
	return nil
}

// applyDeposits checks b's deposits not yet applied against the proof at
// td's (just verified) state root and mints or parks each, in order.
func (m *Module) applyDeposits(ctx *chain.Context, kv chain.KVStore, td *TopDownState, b *TopDown) (minted, parked uint64, err error) {
	deps := b.Deposits
	for len(deps) > 0 && deps[0].Nonce < td.Applied {
		deps = deps[1:] // applied by an earlier topdown
	}
	if len(deps) == 0 {
		return 0, 0, nil
	}
	if deps[0].Nonce != td.Applied {
		return 0, 0, invalid(fmt.Errorf("%w: first %d, next unapplied %d", ErrDepositGap, deps[0].Nonce, td.Applied))
	}
	accs := make([]chain.Hash, len(deps))
	acc := td.Acc
	for i := range deps {
		acc = ChainDeposit(m.codec, acc, td.Subnet, &deps[i])
		if deps[i].Acc != acc {
			return 0, 0, invalid(fmt.Errorf("%w: deposit %d", ErrDepositChain, deps[i].Nonce))
		}
		accs[i] = acc
	}
	last := deps[len(deps)-1]
	last.Refunded = false
	value, err := m.codec.Marshal(&last)
	if err != nil {
		return 0, 0, err
	}
	if err := state.VerifyProof(td.StateRoot, DepositStateKey(td.Subnet, last.Nonce), value, &b.Proof); err != nil {
		return 0, 0, invalid(fmt.Errorf("%w: deposit %d at parent height %d: %w", ErrDepositChain, last.Nonce, td.Height, err))
	}
	for i := range deps {
		d := deps[i]
		d.Refunded = false
		ok, err := m.mintDeposit(ctx, kv, td, &d, d.To)
		if err != nil {
			return 0, 0, err
		}
		if ok {
			minted++
		} else {
			parked++
		}
		td.Applied, td.Acc = d.Nonce+1, accs[i]
	}
	return minted, parked, nil
}

// mintDeposit mints d to `to`, or parks it in the inbox with the reason it
// cannot be minted; ok reports a mint. Only errors that are no refusal of
// this deposit (out of gas, internal) are returned.
func (m *Module) mintDeposit(ctx *chain.Context, kv chain.KVStore, td *TopDownState, d *Deposit, to chain.Address) (bool, error) {
	reason := m.tryMint(ctx, td, to, d.Amount)
	if reason == nil {
		td.Minted += d.Amount
		return true, ctx.Emit("subnet.mint", chain.Attr{Key: "nonce", Value: u64s(d.Nonce)}, chain.Attr{Key: "to", Value: to.String()},
			chain.Attr{Key: "amount", Value: u64s(d.Amount)})
	}
	if isFatal(reason) {
		return false, reason
	}
	if td.Parked+d.Amount < td.Parked {
		return false, fmt.Errorf("%w: parked value", errOverflowAmount)
	}
	td.Parked += d.Amount
	if err := m.put(kv, inboxKey(d.Nonce), &Parked{Deposit: *d, Reason: reason.Error(), Height: ctx.Block.Height}); err != nil {
		return false, err
	}
	return false, ctx.Emit("subnet.parked", chain.Attr{Key: "nonce", Value: u64s(d.Nonce)}, chain.Attr{Key: "to", Value: to.String()},
		chain.Attr{Key: "amount", Value: u64s(d.Amount)}, chain.Attr{Key: "reason", Value: reason.Error()})
}

// tryMint mints or says why not. The bank refuses before it writes (a
// holding cap, an overflow), so a refusal leaves no partial mint.
func (m *Module) tryMint(ctx *chain.Context, td *TopDownState, to chain.Address, amount uint64) error {
	switch {
	case to.IsZero():
		return errBadRecipient
	case ctx.IsModuleAccount(to):
		return errModuleAccount
	case amount == 0:
		return ErrBadAmount
	case td.Minted+amount < td.Minted:
		return errOverflowAmount
	}
	denom, err := m.bank.NativeDenom(ctx)
	if err != nil {
		return err
	}
	return m.bank.Mint(ctx, to, denom, amount)
}

// isFatal: errors that fail the whole message instead of parking. Only
// running out of gas does: any refusal by the bank parks the deposit, so
// no deposit can block the ones after it.
func isFatal(err error) bool { return errors.Is(err, chain.ErrOutOfGas) }

func (m *Module) parked(kv chain.KVReader, nonce uint64, sender chain.Address) (*Parked, error) {
	var p Parked
	ok, err := m.get(kv, inboxKey(nonce), &p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid(fmt.Errorf("%w: %d", ErrNotParked, nonce))
	}
	if p.Deposit.From != sender {
		return nil, fmt.Errorf("%w: %w: deposit %d is %s's", chain.ErrUnauthorized, ErrNotDepositor, nonce, p.Deposit.From)
	}
	return &p, nil
}

// retry mints a parked deposit; a refusal fails the tx and keeps it parked.
func (m *Module) retry(ctx *chain.Context, kv chain.KVStore, b *Retry) error {
	td, err := m.topDownState(kv)
	if err != nil {
		return err
	}
	p, err := m.parked(kv, b.Nonce, ctx.Sender)
	if err != nil {
		return err
	}
	to := b.To
	if to.IsZero() {
		to = p.Deposit.To
	}
	if err := m.tryMint(ctx, td, to, p.Deposit.Amount); err != nil {
		if isFatal(err) {
			return err
		}
		return invalid(fmt.Errorf("deposit %d still cannot be minted: %w", b.Nonce, err))
	}
	td.Minted += p.Deposit.Amount
	td.Parked -= p.Deposit.Amount
	if err := kv.Delete(inboxKey(b.Nonce)); err != nil {
		return err
	}
	if err := m.put(kv, keyTopDown, td); err != nil {
		return err
	}
	return ctx.Emit("subnet.mint", chain.Attr{Key: "nonce", Value: u64s(b.Nonce)}, chain.Attr{Key: "to", Value: to.String()},
		chain.Attr{Key: "amount", Value: u64s(p.Deposit.Amount)}, chain.Attr{Key: "retried", Value: "true"})
}

// ret puts a parked deposit in the outbox for its sender on the parent.
func (m *Module) ret(ctx *chain.Context, kv chain.KVStore, b *Return) error {
	td, err := m.topDownState(kv)
	if err != nil {
		return err
	}
	p, err := m.parked(kv, b.Nonce, ctx.Sender)
	if err != nil {
		return err
	}
	nonce, err := m.appendOutbox(ctx, kv, p.Deposit.From, p.Deposit.From, p.Deposit.Amount)
	if err != nil {
		return err
	}
	td.Parked -= p.Deposit.Amount
	td.Returned += p.Deposit.Amount
	if err := kv.Delete(inboxKey(b.Nonce)); err != nil {
		return err
	}
	if err := m.put(kv, keyTopDown, td); err != nil {
		return err
	}
	return ctx.Emit("subnet.return", chain.Attr{Key: "nonce", Value: u64s(b.Nonce)}, chain.Attr{Key: "withdrawal", Value: u64s(nonce)},
		chain.Attr{Key: "to", Value: p.Deposit.From.String()}, chain.Attr{Key: "amount", Value: u64s(p.Deposit.Amount)})
}

// reclaim pays back a deposit the halted subnet had parked at its last
// checkpoint, proven in its inbox against the checkpointed state root.
func (m *Module) reclaim(ctx *chain.Context, kv chain.KVStore, b *Reclaim) error {
	s, d, err := m.haltedDeposit(ctx, kv, b.Subnet, b.Nonce)
	if err != nil {
		return err
	}
	switch {
	case d.Refunded:
		return invalid(fmt.Errorf("%w: deposit %d", ErrReleased, d.Nonce))
	case d.Nonce >= s.Last.Applied:
		return invalid(fmt.Errorf("%w: deposit %d was not applied at the last checkpoint: refund it", ErrNotParked, d.Nonce))
	case len(b.Value) == 0:
		return invalid(fmt.Errorf("%w: deposit %d: no inbox entry given", ErrNotParked, d.Nonce))
	}
	if err := state.VerifyProof(s.Last.StateRoot, InboxStateKey(d.Nonce), b.Value, &b.Proof); err != nil {
		return invalid(fmt.Errorf("%w: deposit %d: %w", ErrNotParked, d.Nonce, err))
	}
	var p Parked
	if err := m.codec.UnmarshalCanonical(b.Value, &p); err != nil {
		return invalid(fmt.Errorf("%w: inbox entry: %v", ErrNotParked, err))
	}
	if p.Deposit.Nonce != d.Nonce || p.Deposit.From != d.From || p.Deposit.Amount != d.Amount {
		return invalid(fmt.Errorf("%w: the inbox entry is not deposit %d", ErrNotParked, d.Nonce))
	}
	return m.payBack(ctx, kv, s, d, "subnet.reclaim")
}
