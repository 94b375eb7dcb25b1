package subnet

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/state"
)

// Module is the subnet module.
type Module struct {
	key    *chain.StoreKey
	codec  *chain.Codec
	bank   Bank
	layout BalanceLayout
	vals   Validators // nil: re-trust refused
}

// The capabilities subnet holds, besides chain.Module.
var (
	_ chain.Module              = (*Module)(nil)
	_ chain.EndBlocker          = (*Module)(nil)
	_ chain.GenesisExporter     = (*Module)(nil)
	_ chain.ModuleAccountHolder = (*Module)(nil)
	_ chain.Describer           = (*Module)(nil)
)

// New builds the module over its store key, the chain codec, the bank
// holding the native token and the bank's balance layout (for escape
// proofs; nil disables them).
func New(key *chain.StoreKey, codec *chain.Codec, bank Bank, layout BalanceLayout) *Module {
	return &Module{key: key, codec: codec, bank: bank, layout: layout}
}

// Name is "subnet".
func (m *Module) Name() string { return ModuleName }

// ModuleAccounts are the escrow and collateral pools.
func (m *Module) ModuleAccounts() []chain.Address { return []chain.Address{Escrow(), Collateral()} }

// State layout (doc.go lists it).
var (
	keyParams    = []byte("p")
	keyOutbox    = []byte("o")  // Frontier
	prefixSubnet = []byte("s/") // s/<id> → Subnet
	prefixMember = []byte("m/") // m/<id>0<addr> → Member
	prefixCP     = []byte("c/") // c/<id>0<height BE> → SignedCheckpoint (accepted)
	prefixDep    = []byte("d/") // d/<id>0<nonce BE> → Deposit
	prefixRel    = []byte("r/") // r/<id>0<nonce BE> → marker: released withdrawal
	prefixEsc    = []byte("e/") // e/<id>0<addr> → marker: escaped holder
	prefixUnbond = []byte("u/") // u/<height BE><id>0<addr> → marker: release queue
	prefixOut    = []byte("x/") // x/<nonce BE> → CrossMsg (subnet side: the outbox leaves)
	prefixSnap   = []byte("n/") // n/<height BE> → OutboxAt (subnet side)
	prefixECP    = []byte("K/") // K/<height BE><hash> → Checkpoint endorsed (subnet side)
	prefixEnd    = []byte("k/") // k/<height BE><hash><addr> → Endorsement (subnet side)
	marker       = []byte{1}
)

func be(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func idKey(p []byte, id string) []byte {
	return append(append(bytes.Clone(p), id...), 0)
}
func subnetKey(id string) []byte { return append(bytes.Clone(prefixSubnet), id...) }
func memberKey(id string, a chain.Address) []byte {
	return append(idKey(prefixMember, id), a[:]...)
}
func cpKey(id string, h uint64) []byte  { return append(idKey(prefixCP, id), be(h)...) }
func depKey(id string, n uint64) []byte { return append(idKey(prefixDep, id), be(n)...) }
func relKey(id string, n uint64) []byte { return append(idKey(prefixRel, id), be(n)...) }
func outKey(n uint64) []byte            { return append(bytes.Clone(prefixOut), be(n)...) }
func snapKey(h uint64) []byte           { return append(bytes.Clone(prefixSnap), be(h)...) }
func ecpKey(h uint64, hash chain.Hash) []byte {
	return append(append(bytes.Clone(prefixECP), be(h)...), hash[:]...)
}
func endKey(h uint64, hash chain.Hash, a chain.Address) []byte {
	return append(append(append(bytes.Clone(prefixEnd), be(h)...), hash[:]...), a[:]...)
}
func escKey(id string, a chain.Address) []byte { return append(idKey(prefixEsc, id), a[:]...) }
func unbondKey(at uint64, id string, a chain.Address) []byte {
	k := append(bytes.Clone(prefixUnbond), be(at)...)
	return append(append(append(k, id...), 0), a[:]...)
}

func validID(id string) error {
	if len(id) == 0 || len(id) > MaxIDLen {
		return fmt.Errorf("%w: %q: 1 to %d bytes", ErrBadID, id, MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w: %q: only a-z, 0-9 and '-'", ErrBadID, id)
		}
	}
	return nil
}

func invalid(err error) error { return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err) }

// get decodes the CBOR value at k into v; found is false when absent.
func (m *Module) get(r chain.KVReader, k []byte, v any) (bool, error) {
	raw, err := r.Get(k)
	if err != nil || raw == nil {
		return false, err
	}
	if err := m.codec.UnmarshalCanonical(raw, v); err != nil {
		return false, fmt.Errorf("%w: %q: %v", ErrCorrupt, k, err)
	}
	return true, nil
}

func (m *Module) put(kv chain.KVStore, k []byte, v any) error {
	raw, err := m.codec.Marshal(v)
	if err != nil {
		return err
	}
	return kv.Set(k, raw)
}

func (m *Module) params(r chain.KVReader) (Params, error) {
	var p Params
	ok, err := m.get(r, keyParams, &p)
	if err != nil || !ok {
		return DefaultParams(), err
	}
	return p, nil
}

func (m *Module) subnet(r chain.KVReader, id string) (*Subnet, error) {
	var s Subnet
	ok, err := m.get(r, subnetKey(id), &s)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSubnet, id)
	}
	return &s, nil
}

func (m *Module) member(r chain.KVReader, id string, a chain.Address) (*Member, error) {
	var mb Member
	ok, err := m.get(r, memberKey(id, a), &mb)
	if err != nil || !ok {
		return nil, err
	}
	return &mb, nil
}

// Deliver executes one message.
func (m *Module) Deliver(ctx *chain.Context, msg chain.Msg) error {
	kv := ctx.Store(m.key)
	switch msg.Type {
	case TypeRegister:
		var b Register
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.register(ctx, kv, &b)
	case TypeJoin:
		var b Join
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.join(ctx, kv, &b)
	case TypeLeave:
		var b Leave
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.leave(ctx, kv, &b)
	case TypeCheckpoint:
		var b SignedCheckpoint
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.checkpoint(ctx, kv, &b)
	case TypeEquivocate:
		var b Equivocate
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.equivocate(ctx, kv, &b)
	case TypeDeposit:
		var b DepositMsg
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.deposit(ctx, kv, &b)
	case TypeRelease:
		var b Release
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.release(ctx, kv, &b)
	case TypeEscape:
		var b Escape
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.escape(ctx, kv, &b)
	case TypeRefund:
		var b Refund
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.refund(ctx, kv, &b)
	case TypeEndorse:
		var b Endorse
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.endorse(ctx, kv, &b)
	case TypeWithdraw:
		var b Withdraw
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.withdraw(ctx, kv, &b)
	case TypeTopDown:
		var b TopDown
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.topdown(ctx, kv, &b)
	case TypeRetrust:
		var b Retrust
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.retrust(ctx, kv, &b)
	case TypeRetry:
		var b Retry
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.retry(ctx, kv, &b)
	case TypeReturn:
		var b Return
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.ret(ctx, kv, &b)
	case TypeReclaim:
		var b Reclaim
		if err := msg.DecodeBody(m.codec, &b); err != nil {
			return err
		}
		return m.reclaim(ctx, kv, &b)
	}
	return fmt.Errorf("%w: subnet has no message %q", chain.ErrUnknownMsg, msg.Type)
}

// lockCollateral moves the sender's collateral for nv into the pool and
// returns the member record.
func (m *Module) newMember(ctx *chain.Context, p Params, nv NewValidator, denom string) (*Member, error) {
	if nv.Collateral < p.MinCollateral {
		return nil, invalid(fmt.Errorf("%w: %d, minimum %d", ErrCollateral, nv.Collateral, p.MinCollateral))
	}
	if err := m.bank.Transfer(ctx, ctx.Sender, Collateral(), denom, nv.Collateral); err != nil {
		return nil, fmt.Errorf("lock collateral: %w", err)
	}
	return &Member{Address: nv.PubKey.Address(), PubKey: nv.PubKey, Owner: ctx.Sender, Collateral: nv.Collateral,
		Power: nv.Collateral / p.PowerReduction, Status: StatusActive}, nil
}

func (m *Module) register(ctx *chain.Context, kv chain.KVStore, b *Register) error {
	if err := validID(b.ID); err != nil {
		return invalid(err)
	}
	if ok, err := kv.Get(subnetKey(b.ID)); err != nil {
		return err
	} else if ok != nil {
		return invalid(fmt.Errorf("%w: %q", ErrExists, b.ID))
	}
	p, err := m.params(kv)
	if err != nil {
		return err
	}
	switch {
	case b.Period == 0:
		return invalid(fmt.Errorf("%w: period must be positive", ErrBadHeight))
	case len(b.Validators) == 0 || len(b.Validators) > MaxSubnetVals:
		return invalid(fmt.Errorf("%w: %d validators, want 1 to %d", ErrBadValidators, len(b.Validators), MaxSubnetVals))
	case b.GenesisHash.IsZero():
		return invalid(fmt.Errorf("%w: genesis hash is zero", ErrBadValidators))
	}
	escape := max(b.EscapeAfter, p.EscapeAfter)
	denom, err := m.bank.NativeDenom(ctx)
	if err != nil {
		return err
	}
	vals := make([]chain.Validator, 0, len(b.Validators))
	for _, nv := range b.Validators {
		mb, err := m.newMember(ctx, p, nv, denom)
		if err != nil {
			return err
		}
		if old, err := m.member(kv, b.ID, mb.Address); err != nil {
			return err
		} else if old != nil {
			return invalid(fmt.Errorf("%w: %s twice", ErrBadValidators, mb.Address))
		}
		if err := m.put(kv, memberKey(b.ID, mb.Address), mb); err != nil {
			return err
		}
		vals = append(vals, chain.Validator{Address: mb.Address, PubKey: mb.PubKey, Power: mb.Power})
	}
	vs, err := chain.NewValidatorSet(vals)
	if err != nil {
		return invalid(fmt.Errorf("%w: %w", ErrBadValidators, err))
	}
	s := Subnet{ID: b.ID, Creator: ctx.Sender, GenesisHash: b.GenesisHash, Period: b.Period, Private: b.Private,
		EscapeAfter: escape, Registered: ctx.Block.Height, Validators: vs.Validators}
	if err := m.put(kv, subnetKey(b.ID), &s); err != nil {
		return err
	}
	return ctx.Emit("subnet.register", chain.Attr{Key: "subnet", Value: b.ID},
		chain.Attr{Key: "validators", Value: strconv.Itoa(len(vals))}, chain.Attr{Key: "period", Value: u64s(b.Period)})
}

func u64s(v uint64) string { return strconv.FormatUint(v, 10) }

func (m *Module) join(ctx *chain.Context, kv chain.KVStore, b *Join) error {
	s, err := m.subnet(kv, b.Subnet)
	if err != nil {
		return err
	}
	if s.Halted {
		return invalid(ErrHalted)
	}
	a := b.Validator.PubKey.Address()
	if old, err := m.member(kv, b.Subnet, a); err != nil {
		return err
	} else if old != nil {
		return invalid(fmt.Errorf("%w: %s is %s", ErrMember, a, old.Status))
	}
	p, err := m.params(kv)
	if err != nil {
		return err
	}
	denom, err := m.bank.NativeDenom(ctx)
	if err != nil {
		return err
	}
	mb, err := m.newMember(ctx, p, b.Validator, denom)
	if err != nil {
		return err
	}
	if err := m.put(kv, memberKey(b.Subnet, a), mb); err != nil {
		return err
	}
	return ctx.Emit("subnet.join", chain.Attr{Key: "subnet", Value: b.Subnet}, chain.Attr{Key: "validator", Value: a.String()},
		chain.Attr{Key: "power", Value: u64s(mb.Power)})
}

func inSet(vals []chain.Validator, a chain.Address) bool {
	for _, v := range vals {
		if v.Address == a {
			return true
		}
	}
	return false
}

func (m *Module) leave(ctx *chain.Context, kv chain.KVStore, b *Leave) error {
	s, err := m.subnet(kv, b.Subnet)
	if err != nil {
		return err
	}
	mb, err := m.member(kv, b.Subnet, b.Validator)
	if err != nil {
		return err
	}
	if mb == nil {
		return invalid(fmt.Errorf("%w: %s", ErrNoMember, b.Validator))
	}
	if mb.Owner != ctx.Sender {
		return fmt.Errorf("%w: %s's collateral is %s's", chain.ErrUnauthorized, b.Validator, mb.Owner)
	}
	if mb.Status != StatusActive {
		return invalid(fmt.Errorf("%w: %s is %s", ErrMember, b.Validator, mb.Status))
	}
	if inSet(s.Validators, mb.Address) && !s.Halted {
		mb.Status = StatusLeaving // released once a checkpoint drops it
	} else if err := m.unbond(ctx, kv, s.ID, mb); err != nil {
		return err
	}
	if err := m.put(kv, memberKey(b.Subnet, mb.Address), mb); err != nil {
		return err
	}
	return ctx.Emit("subnet.leave", chain.Attr{Key: "subnet", Value: b.Subnet}, chain.Attr{Key: "validator", Value: mb.Address.String()},
		chain.Attr{Key: "status", Value: mb.Status})
}

// unbond queues mb's collateral for release after the unbonding period
// (the caller stores mb).
func (m *Module) unbond(ctx *chain.Context, kv chain.KVStore, id string, mb *Member) error {
	p, err := m.params(kv)
	if err != nil {
		return err
	}
	mb.Status, mb.ReleaseAt = StatusUnbonding, ctx.Block.Height+p.UnbondingBlocks
	return kv.Set(unbondKey(mb.ReleaseAt, id, mb.Address), marker)
}

// checkpoint accepts a signed checkpoint, from anyone. A checkpoint at or
// below the last accepted height is a no-op that succeeds before any
// signature is checked, so racing submitters cost each other nothing.
func (m *Module) checkpoint(ctx *chain.Context, kv chain.KVStore, sc *SignedCheckpoint) error {
	cp := &sc.Checkpoint
	s, err := m.subnet(kv, cp.Subnet)
	if err != nil {
		return err
	}
	if s.Halted {
		return invalid(ErrHalted)
	}
	if cp.Height <= s.Last.Height {
		return ctx.Emit("subnet.checkpoint.duplicate", chain.Attr{Key: "subnet", Value: s.ID},
			chain.Attr{Key: "height", Value: u64s(cp.Height)}, chain.Attr{Key: "last", Value: u64s(s.Last.Height)})
	}
	if cp.Height%s.Period != 0 {
		return invalid(fmt.Errorf("%w: %d, period %d", ErrBadHeight, cp.Height, s.Period))
	}
	switch {
	case cp.MsgCount < s.Last.MsgCount:
		return invalid(fmt.Errorf("%w: outbox of %d messages, had %d", ErrRegress, cp.MsgCount, s.Last.MsgCount))
	case cp.DepositsApplied < s.Last.Applied || cp.DepositsApplied > s.Deposits:
		return invalid(fmt.Errorf("%w: %d deposits applied, had %d of %d made", ErrRegress, cp.DepositsApplied, s.Last.Applied, s.Deposits))
	case len(cp.NextValidators) == 0 || len(cp.NextValidators) > MaxSubnetVals:
		return invalid(fmt.Errorf("%w: %d next validators", ErrNextSet, len(cp.NextValidators)))
	}
	if err := ctx.Gas.Consume(uint64(len(sc.Sigs))*GasPerSignature, "checkpoint signatures"); err != nil {
		return err
	}
	vals, err := chain.NewValidatorSet(s.Validators)
	if err != nil {
		return fmt.Errorf("%w: registered set: %v", ErrCorrupt, err)
	}
	var tomb []chain.Address
	for _, v := range s.Validators {
		mb, err := m.member(kv, s.ID, v.Address)
		if err != nil {
			return err
		}
		if mb == nil || mb.Status == StatusTombstoned {
			tomb = append(tomb, v.Address)
		}
	}
	skip := func(a chain.Address) bool {
		for _, t := range tomb {
			if t == a {
				return true
			}
		}
		return false
	}
	if _, err := VerifySigned(m.codec, s.GenesisHash, vals, sc, skip); err != nil {
		return invalid(err)
	}
	next, err := chain.NewValidatorSet(cp.NextValidators)
	if err != nil {
		return invalid(fmt.Errorf("%w: %w", ErrNextSet, err))
	}
	if !slicesEqualVals(next.Validators, cp.NextValidators) {
		return invalid(fmt.Errorf("%w: next validators not sorted by address", ErrNextSet))
	}
	for _, v := range next.Validators {
		mb, err := m.member(kv, s.ID, v.Address)
		if err != nil {
			return err
		}
		if mb == nil || mb.PubKey != v.PubKey || mb.Power != v.Power || (mb.Status != StatusActive && mb.Status != StatusLeaving) {
			return invalid(fmt.Errorf("%w: %s with power %d", ErrNextSet, v.Address, v.Power))
		}
	}
	// Members that were in the set and are not in the next one: a leaving
	// member starts unbonding now.
	for _, v := range s.Validators {
		if inSet(next.Validators, v.Address) {
			continue
		}
		mb, err := m.member(kv, s.ID, v.Address)
		if err != nil {
			return err
		}
		if mb != nil && mb.Status == StatusLeaving {
			if err := m.unbond(ctx, kv, s.ID, mb); err != nil {
				return err
			}
			if err := m.put(kv, memberKey(s.ID, mb.Address), mb); err != nil {
				return err
			}
		}
	}
	hash := cp.Hash(m.codec)
	changed := vals.Hash(m.codec) != next.Hash(m.codec)
	s.Validators = next.Validators
	s.Last = CheckpointRecord{Height: cp.Height, Hash: hash, StateRoot: cp.StateRoot, MsgRoot: cp.MsgRoot,
		MsgCount: cp.MsgCount, Applied: cp.DepositsApplied, ParentHeight: ctx.Block.Height}
	s.Checkpoint++
	if err := m.put(kv, subnetKey(s.ID), s); err != nil {
		return err
	}
	acc := Accepted{Signed: *sc, Signers: vals.Validators, ParentHeight: ctx.Block.Height}
	if err := m.put(kv, cpKey(s.ID, cp.Height), &acc); err != nil {
		return err
	}
	return ctx.Emit("subnet.checkpoint", chain.Attr{Key: "subnet", Value: s.ID}, chain.Attr{Key: "height", Value: u64s(cp.Height)},
		chain.Attr{Key: "hash", Value: hash.String()}, chain.Attr{Key: "set_changed", Value: strconv.FormatBool(changed)},
		chain.Attr{Key: "msg_count", Value: u64s(cp.MsgCount)})
}

func slicesEqualVals(a, b []chain.Validator) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Address != b[i].Address || a[i].PubKey != b[i].PubKey || a[i].Power != b[i].Power {
			return false
		}
	}
	return true
}

// equivocate slashes a validator proven to have signed two different
// checkpoints of one subnet for one height. Any registered member counts,
// in the set or not, while its collateral is still locked.
func (m *Module) equivocate(ctx *chain.Context, kv chain.KVStore, e *Equivocate) error {
	if e.A.Subnet != e.B.Subnet || e.A.Height != e.B.Height {
		return invalid(fmt.Errorf("%w: checkpoints of %s/%d and %s/%d", ErrNotEquivocal, e.A.Subnet, e.A.Height, e.B.Subnet, e.B.Height))
	}
	ha, hb := e.A.Hash(m.codec), e.B.Hash(m.codec)
	if bytes.Compare(ha[:], hb[:]) >= 0 {
		// ordered, so one equivocation has one encoding
		return invalid(fmt.Errorf("%w: checkpoints agree or are out of order", ErrNotEquivocal))
	}
	s, err := m.subnet(kv, e.A.Subnet)
	if err != nil {
		return err
	}
	mb, err := m.member(kv, s.ID, e.Validator)
	if err != nil {
		return err
	}
	if mb == nil {
		return invalid(fmt.Errorf("%w: %s", ErrNoMember, e.Validator))
	}
	if mb.Status == StatusTombstoned {
		return invalid(fmt.Errorf("%w: %s", ErrTombstoned, e.Validator))
	}
	if err := ctx.Gas.Consume(2*GasPerSignature, "equivocation signatures"); err != nil {
		return err
	}
	if !chain.VerifySig(mb.PubKey, SignBytes(m.codec, s.GenesisHash, &e.A), e.SigA) ||
		!chain.VerifySig(mb.PubKey, SignBytes(m.codec, s.GenesisHash, &e.B), e.SigB) {
		return invalid(fmt.Errorf("%w: %w", ErrNotEquivocal, ErrBadSignature))
	}
	p, err := m.params(kv)
	if err != nil {
		return err
	}
	denom, err := m.bank.NativeDenom(ctx)
	if err != nil {
		return err
	}
	slash := mulBP(mb.Collateral, p.SlashBP)
	if slash > 0 {
		if err := m.bank.Burn(ctx, Collateral(), denom, slash); err != nil {
			return fmt.Errorf("slash: %w", err)
		}
	}
	rest := mb.Collateral - slash
	if rest > 0 {
		if err := m.bank.Transfer(ctx, Collateral(), mb.Owner, denom, rest); err != nil {
			return fmt.Errorf("return unslashed collateral: %w", err)
		}
	}
	if mb.Status == StatusUnbonding {
		if err := kv.Delete(unbondKey(mb.ReleaseAt, s.ID, mb.Address)); err != nil {
			return err
		}
	}
	mb.Status, mb.Collateral, mb.ReleaseAt = StatusTombstoned, 0, 0
	if err := m.put(kv, memberKey(s.ID, mb.Address), mb); err != nil {
		return err
	}
	return ctx.Emit("subnet.slash", chain.Attr{Key: "subnet", Value: s.ID}, chain.Attr{Key: "validator", Value: mb.Address.String()},
		chain.Attr{Key: "height", Value: u64s(e.A.Height)}, chain.Attr{Key: "amount", Value: u64s(slash)})
}

// mulBP is v × bp / 10000 without overflow.
func mulBP(v, bp uint64) uint64 { return v/10000*bp + v%10000*bp/10000 }

func (m *Module) deposit(ctx *chain.Context, kv chain.KVStore, b *DepositMsg) error {
	if b.Amount == 0 {
		return invalid(ErrBadAmount)
	}
	s, err := m.subnet(kv, b.Subnet)
	if err != nil {
		return err
	}
	if s.Halted {
		return invalid(ErrHalted)
	}
	if s.Locked+b.Amount < s.Locked {
		return invalid(errOverflowAmount)
	}
	denom, err := m.bank.NativeDenom(ctx)
	if err != nil {
		return err
	}
	if err := m.bank.Transfer(ctx, ctx.Sender, Escrow(), denom, b.Amount); err != nil {
		return fmt.Errorf("lock deposit: %w", err)
	}
	d := Deposit{Nonce: s.Deposits, From: ctx.Sender, To: b.To, Amount: b.Amount, ParentHeight: ctx.Block.Height}
	d.Acc = ChainDeposit(m.codec, s.DepositAcc, s.ID, &d)
	s.DepositAcc = d.Acc
	if err := m.put(kv, depKey(s.ID, d.Nonce), &d); err != nil {
		return err
	}
	s.Deposits++
	s.Locked += b.Amount
	if err := m.put(kv, subnetKey(s.ID), s); err != nil {
		return err
	}
	return ctx.Emit("subnet.deposit", chain.Attr{Key: "subnet", Value: s.ID}, chain.Attr{Key: "nonce", Value: u64s(d.Nonce)},
		chain.Attr{Key: "to", Value: b.To.String()}, chain.Attr{Key: "amount", Value: u64s(b.Amount)})
}

// payOut sends amount from escrow to to against the subnet's locked value.
func (m *Module) payOut(ctx *chain.Context, kv chain.KVStore, s *Subnet, to chain.Address, amount uint64) error {
	if amount > s.Locked {
		return invalid(fmt.Errorf("%w: %d, locked %d", ErrLocked, amount, s.Locked))
	}
	denom, err := m.bank.NativeDenom(ctx)
	if err != nil {
		return err
	}
	if err := m.bank.Transfer(ctx, Escrow(), to, denom, amount); err != nil {
		return fmt.Errorf("release from escrow: %w", err)
	}
	s.Locked -= amount
	return m.put(kv, subnetKey(s.ID), s)
}

// release pays a withdrawal proven in the outbox of an accepted checkpoint.
func (m *Module) release(ctx *chain.Context, kv chain.KVStore, b *Release) error {
	s, err := m.subnet(kv, b.Subnet)
	if err != nil {
		return err
	}
	var acc Accepted
	ok, err := m.get(kv, cpKey(s.ID, b.CheckpointHeight), &acc)
	if err != nil {
		return err
	}
	if !ok {
		return invalid(fmt.Errorf("%w: %s at %d", ErrNoCheckpoint, s.ID, b.CheckpointHeight))
	}
	cp := &acc.Signed.Checkpoint
	if b.Proof.Total != cp.MsgCount || b.Msg.Nonce != b.Proof.Index {
		return invalid(fmt.Errorf("%w: message %d of %d, checkpoint outbox has %d", chain.ErrBadProof, b.Proof.Index, b.Proof.Total, cp.MsgCount))
	}
	if err := b.Proof.Verify(cp.MsgRoot, m.msgBytes(&b.Msg)); err != nil {
		return invalid(err)
	}
	if done, err := kv.Get(relKey(s.ID, b.Msg.Nonce)); err != nil {
		return err
	} else if done != nil {
		return invalid(fmt.Errorf("%w: withdrawal %d", ErrReleased, b.Msg.Nonce))
	}
	if b.Msg.Amount == 0 {
		return invalid(ErrBadAmount)
	}
	if err := m.payOut(ctx, kv, s, b.Msg.To, b.Msg.Amount); err != nil {
		return err
	}
	if err := kv.Set(relKey(s.ID, b.Msg.Nonce), marker); err != nil {
		return err
	}
	return ctx.Emit("subnet.release", chain.Attr{Key: "subnet", Value: s.ID}, chain.Attr{Key: "nonce", Value: u64s(b.Msg.Nonce)},
		chain.Attr{Key: "to", Value: b.Msg.To.String()}, chain.Attr{Key: "amount", Value: u64s(b.Msg.Amount)})
}

func hexEncode(b []byte) string          { return hex.EncodeToString(b) }
func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }

func (m *Module) msgBytes(x *CrossMsg) []byte {
	b, err := m.codec.Marshal(x)
	if err != nil {
		panic(err)
	}
	return b
}

// halt marks s halted when it has not checkpointed for EscapeAfter parent
// blocks; it reports whether s is halted.
func (m *Module) halt(ctx *chain.Context, kv chain.KVStore, s *Subnet) (bool, error) {
	if s.Halted {
		return true, nil
	}
	since := max(s.Last.ParentHeight, s.Registered)
	if ctx.Block.Height <= since+s.EscapeAfter {
		return false, nil
	}
	s.Halted, s.HaltedAt = true, ctx.Block.Height
	if err := m.put(kv, subnetKey(s.ID), s); err != nil {
		return false, err
	}
	return true, ctx.Emit("subnet.halt", chain.Attr{Key: "subnet", Value: s.ID}, chain.Attr{Key: "last_checkpoint", Value: u64s(s.Last.Height)})
}

// escape pays a holder's balance on a halted subnet, proven against the
// last checkpointed state root. Once the first holder escapes, the subnet
// is halted for good: a late checkpoint would spend the same balance twice.
func (m *Module) escape(ctx *chain.Context, kv chain.KVStore, b *Escape) error {
	if m.layout == nil {
		return invalid(ErrNoBankLayout)
	}
	s, err := m.subnet(kv, b.Subnet)
	if err != nil {
		return err
	}
	halted, err := m.halt(ctx, kv, s)
	if err != nil {
		return err
	}
	if !halted {
		since := max(s.Last.ParentHeight, s.Registered)
		return invalid(fmt.Errorf("%w: last checkpoint at parent height %d, escape after %d more", ErrNotHalted, since, since+s.EscapeAfter+1-ctx.Block.Height))
	}
	if s.Last.Height == 0 {
		return invalid(fmt.Errorf("%w: the subnet never checkpointed; refund deposits instead", ErrNoCheckpoint))
	}
	if done, err := kv.Get(escKey(s.ID, b.Holder)); err != nil {
		return err
	} else if done != nil {
		return invalid(fmt.Errorf("%w: %s already escaped", ErrReleased, b.Holder))
	}
	denom, err := m.bank.NativeDenom(ctx)
	if err != nil {
		return err
	}
	if len(b.Value) == 0 {
		return invalid(ErrBadAmount)
	}
	key := m.layout.BalanceKey(b.Holder, denom)
	if err := state.VerifyProof(s.Last.StateRoot, key, b.Value, &b.Proof); err != nil {
		return invalid(err)
	}
	amount, err := m.layout.DecodeBalance(b.Value)
	if err != nil {
		return invalid(err)
	}
	if amount == 0 {
		return invalid(ErrBadAmount)
	}
	if err := m.payOut(ctx, kv, s, b.Holder, amount); err != nil {
		return err
	}
	if err := kv.Set(escKey(s.ID, b.Holder), marker); err != nil {
		return err
	}
	return ctx.Emit("subnet.escape", chain.Attr{Key: "subnet", Value: s.ID}, chain.Attr{Key: "holder", Value: b.Holder.String()},
		chain.Attr{Key: "amount", Value: u64s(amount)}, chain.Attr{Key: "state_root", Value: s.Last.StateRoot.String()})
}

// refund returns a deposit the halted subnet had not applied at its last
// checkpoint to its sender.
func (m *Module) refund(ctx *chain.Context, kv chain.KVStore, b *Refund) error {
	s, d, err := m.haltedDeposit(ctx, kv, b.Subnet, b.Nonce)
	if err != nil {
		return err
	}
	if d.Nonce < s.Last.Applied {
		return invalid(fmt.Errorf("%w: deposit %d was applied on the subnet (escape with its balance)", ErrReleased, d.Nonce))
	}
	if d.Refunded {
		return invalid(fmt.Errorf("%w: deposit %d", ErrReleased, d.Nonce))
	}
	return m.payBack(ctx, kv, s, d, "subnet.refund")
}

// haltedDeposit reads subnet id, which must be halted (m.halt, which may
// record the halt), and its deposit nonce, which must exist: what refund
// and reclaim check first.
func (m *Module) haltedDeposit(ctx *chain.Context, kv chain.KVStore, id string, nonce uint64) (*Subnet, *Deposit, error) {
	s, err := m.subnet(kv, id)
	if err != nil {
		return nil, nil, err
	}
	halted, err := m.halt(ctx, kv, s)
	if err != nil {
		return nil, nil, err
	}
	if !halted {
		return nil, nil, invalid(ErrNotHalted)
	}
	var d Deposit
	ok, err := m.get(kv, depKey(s.ID, nonce), &d)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, invalid(fmt.Errorf("%w: %d", ErrNoDeposit, nonce))
	}
	return s, &d, nil
}

// payBack pays deposit d of subnet s back to its sender, marks it
// refunded and emits event: the end of refund and reclaim.
func (m *Module) payBack(ctx *chain.Context, kv chain.KVStore, s *Subnet, d *Deposit, event string) error {
	if err := m.payOut(ctx, kv, s, d.From, d.Amount); err != nil {
		return err
	}
	d.Refunded = true
	if err := m.put(kv, depKey(s.ID, d.Nonce), d); err != nil {
		return err
	}
	return ctx.Emit(event, chain.Attr{Key: "subnet", Value: s.ID}, chain.Attr{Key: "nonce", Value: u64s(d.Nonce)},
		chain.Attr{Key: "to", Value: d.From.String()}, chain.Attr{Key: "amount", Value: u64s(d.Amount)})
}

// withdraw runs on the subnet: burn the sender's native token and append
// the message owed on the parent to the outbox.
func (m *Module) withdraw(ctx *chain.Context, kv chain.KVStore, b *Withdraw) error {
	if b.Amount == 0 {
		return invalid(ErrBadAmount)
	}
	denom, err := m.bank.NativeDenom(ctx)
	if err != nil {
		return err
	}
	if err := m.bank.Burn(ctx, ctx.Sender, denom, b.Amount); err != nil {
		return fmt.Errorf("withdraw: %w", err)
	}
	nonce, err := m.appendOutbox(ctx, kv, ctx.Sender, b.To, b.Amount)
	if err != nil {
		return err
	}
	return ctx.Emit("subnet.withdraw", chain.Attr{Key: "nonce", Value: u64s(nonce)}, chain.Attr{Key: "to", Value: b.To.String()},
		chain.Attr{Key: "amount", Value: u64s(b.Amount)})
}

// appendOutbox puts a message owed to `to` on the parent in the outbox
// and returns its nonce.
func (m *Module) appendOutbox(ctx *chain.Context, kv chain.KVStore, from, to chain.Address, amount uint64) (uint64, error) {
	f, err := m.frontier(kv)
	if err != nil {
		return 0, err
	}
	x := CrossMsg{Nonce: f.Count, From: from, To: to, Amount: amount, Height: ctx.Block.Height}
	leaf := m.msgBytes(&x)
	if err := kv.Set(outKey(x.Nonce), leaf); err != nil {
		return 0, err
	}
	f.Append(leaf)
	return x.Nonce, m.put(kv, keyOutbox, f)
}

func (m *Module) frontier(r chain.KVReader) (*Frontier, error) {
	var f Frontier
	if _, err := m.get(r, keyOutbox, &f); err != nil {
		return nil, err
	}
	if !f.valid() {
		return nil, fmt.Errorf("%w: outbox frontier of %d leaves has %d peaks", ErrCorrupt, f.Count, len(f.Peaks))
	}
	return &f, nil
}

// endorse stores a subnet validator's signature of a checkpoint of this
// chain, after checking what this chain can: the height is a checkpoint
// height already committed, the outbox is this chain's at that height, and
// the signature is the sender's own. Whether the signer belongs to the
// registered set is the parent's to check.
func (m *Module) endorse(ctx *chain.Context, kv chain.KVStore, e *Endorse) error {
	p, err := m.params(kv)
	if err != nil {
		return err
	}
	cp := &e.Checkpoint
	switch {
	case p.CheckpointPeriod == 0:
		return invalid(ErrNotSubnet)
	case cp.Height == 0 || cp.Height%p.CheckpointPeriod != 0 || cp.Height >= ctx.Block.Height:
		return invalid(fmt.Errorf("%w: %d (period %d, this block %d)", ErrBadHeight, cp.Height, p.CheckpointPeriod, ctx.Block.Height))
	case e.PubKey.Address() != ctx.Sender:
		return fmt.Errorf("%w: endorse with the validator's own key", chain.ErrUnauthorized)
	}
	var at OutboxAt
	ok, err := m.get(kv, snapKey(cp.Height), &at)
	if err != nil {
		return err
	}
	if !ok || at.Count != cp.MsgCount || at.Root != cp.MsgRoot || at.Applied != cp.DepositsApplied {
		return invalid(fmt.Errorf("%w: %d", ErrOutbox, cp.Height))
	}
	if err := ctx.Gas.Consume(GasPerSignature, "endorsement signature"); err != nil {
		return err
	}
	if !chain.VerifySig(e.PubKey, SignBytes(m.codec, e.GenesisHash, cp), e.Sig) {
		return invalid(ErrBadSignature)
	}
	hash := cp.Hash(m.codec)
	if raw, err := kv.Get(ecpKey(cp.Height, hash)); err != nil {
		return err
	} else if raw == nil {
		if err := m.put(kv, ecpKey(cp.Height, hash), cp); err != nil {
			return err
		}
	}
	if err := m.put(kv, endKey(cp.Height, hash, ctx.Sender), &Endorsement{GenesisHash: e.GenesisHash, PubKey: e.PubKey, Sig: e.Sig}); err != nil {
		return err
	}
	return ctx.Emit("subnet.endorse", chain.Attr{Key: "height", Value: u64s(cp.Height)}, chain.Attr{Key: "hash", Value: hash.String()},
		chain.Attr{Key: "validator", Value: ctx.Sender.String()})
}

// EndBlock snapshots the outbox at checkpoint heights (on a subnet) and
// releases collateral whose unbonding period is over.
func (m *Module) EndBlock(ctx *chain.Context) error {
	kv := ctx.Store(m.key)
	p, err := m.params(kv)
	if err != nil {
		return err
	}
	if p.CheckpointPeriod > 0 && ctx.Block.Height%p.CheckpointPeriod == 0 {
		f, err := m.frontier(kv)
		if err != nil {
			return err
		}
		at := OutboxAt{Count: f.Count, Root: f.Root()}
		if raw, err := kv.Get(keyTopDown); err != nil {
			return err
		} else if raw != nil {
			td, err := m.topDownState(kv)
			if err != nil {
				return err
			}
			at.Applied = td.Applied
		}
		if err := m.put(kv, snapKey(ctx.Block.Height), &at); err != nil {
			return err
		}
	}
	type due struct {
		key []byte
		id  string
		a   chain.Address
	}
	var list []due
	err = kv.Iterate(prefixUnbond, func(k, _ []byte) (bool, error) {
		rest := k[len(prefixUnbond):]
		if len(rest) < 8+1+chain.AddressLen {
			return true, fmt.Errorf("%w: unbond key %x", ErrCorrupt, k)
		}
		if binary.BigEndian.Uint64(rest) > ctx.Block.Height {
			return true, nil
		}
		var a chain.Address
		copy(a[:], rest[len(rest)-chain.AddressLen:])
		list = append(list, due{key: bytes.Clone(k), id: string(rest[8 : len(rest)-chain.AddressLen-1]), a: a})
		return len(list) >= 64, nil
	})
	if err != nil {
		return fmt.Errorf("subnet: unbonding queue: %w", err)
	}
	if len(list) == 0 {
		return nil
	}
	denom, err := m.bank.NativeDenom(ctx)
	if err != nil {
		return err
	}
	for _, d := range list {
		if err := kv.Delete(d.key); err != nil {
			return err
		}
		mb, err := m.member(kv, d.id, d.a)
		if err != nil {
			return err
		}
		if mb == nil || mb.Status != StatusUnbonding {
			continue
		}
		if err := m.bank.Transfer(ctx, Collateral(), mb.Owner, denom, mb.Collateral); err != nil {
			return fmt.Errorf("subnet: release collateral of %s: %w", mb.Address, err)
		}
		if err := kv.Delete(memberKey(d.id, d.a)); err != nil {
			return err
		}
		if err := ctx.Emit("subnet.unbonded", chain.Attr{Key: "subnet", Value: d.id}, chain.Attr{Key: "validator", Value: d.a.String()},
			chain.Attr{Key: "amount", Value: u64s(mb.Collateral)}); err != nil {
			return err
		}
	}
	return nil
}

// Genesis is the module's section of genesis.json: parameters and, in an
// export, every stored key and value (hex), so a restarted chain has the
// same state root.
type Genesis struct {
	Params *Params `json:"params,omitempty"`
	// TopDown makes this chain a subnet following its parent's headers
	// and minting its deposits (subnet side only).
	TopDown *TopDownGenesis `json:"topdown,omitempty"`
	State   [][2]string     `json:"state,omitempty"`
}

// InitGenesis loads the section (absent: default parameters).
func (m *Module) InitGenesis(ctx *chain.Context, raw json.RawMessage) error {
	kv := ctx.Store(m.key)
	if len(raw) == 0 {
		return nil
	}
	var g Genesis
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return fmt.Errorf("subnet genesis: %w", err)
	}
	if g.Params != nil {
		if err := g.Params.validate(); err != nil {
			return fmt.Errorf("subnet genesis: params: %w", err)
		}
		if err := m.put(kv, keyParams, g.Params); err != nil {
			return err
		}
	}
	if g.TopDown != nil {
		td, err := g.TopDown.state()
		if err != nil {
			return fmt.Errorf("subnet genesis: %w", err)
		}
		if err := m.put(kv, keyTopDown, td); err != nil {
			return err
		}
	}
	for i, kvp := range g.State {
		k, err1 := hexDecode(kvp[0])
		v, err2 := hexDecode(kvp[1])
		if err1 != nil || err2 != nil || len(k) == 0 || bytes.Equal(k, keyParams) {
			return fmt.Errorf("subnet genesis: state[%d]: bad key or value", i)
		}
		if err := kv.Set(k, v); err != nil {
			return err
		}
	}
	return nil
}

// ExportGenesis writes the section from state (chain.GenesisExporter).
func (m *Module) ExportGenesis(r chain.KVReader) (json.RawMessage, error) {
	var g Genesis
	if raw, err := r.Get(keyParams); err != nil {
		return nil, err
	} else if raw != nil {
		p, err := m.params(r)
		if err != nil {
			return nil, err
		}
		g.Params = &p
	}
	err := r.Iterate(nil, func(k, v []byte) (bool, error) {
		if !bytes.Equal(k, keyParams) {
			g.State = append(g.State, [2]string{hexEncode(k), hexEncode(v)})
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(g)
}
