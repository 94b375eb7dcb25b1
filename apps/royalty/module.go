package royalty

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/dure-network/dure/chain"
)

// Bank is what royalty needs from the module holding the tokens
// (apps/currency satisfies it). Transfer moves funds between any two
// accounts without further authorization: royalty calls it only for the
// tx sender's own funds or for its pool account.
type Bank interface {
	Transfer(ctx *chain.Context, from, to chain.Address, denom string, amount uint64) error
}

// Pool is the account holding every paid, unclaimed amount and every
// escrowed bid: the first 20 bytes of sha2-256("dure/module/royalty"), the
// same derivation as currency.ModuleAddress, so no key signs for it.
func PoolAccount() chain.Address {
	sum := sha256.Sum256([]byte("dure/module/" + ModuleName))
	var a chain.Address
	copy(a[:], sum[:chain.AddressLen])
	return a
}

// Module is the royalty application module.
type Module struct {
	key   *chain.StoreKey
	codec *chain.Codec
	bank  Bank
}

// The capabilities royalty holds, besides chain.Module.
var (
	_ chain.Module              = (*Module)(nil)
	_ chain.EndBlocker          = (*Module)(nil)
	_ chain.GenesisExporter     = (*Module)(nil)
	_ chain.ModuleAccountHolder = (*Module)(nil)
	_ chain.Describer           = (*Module)(nil)
)

// New builds the module over its store key, the chain codec and the bank.
func New(key *chain.StoreKey, codec *chain.Codec, bank Bank) *Module {
	return &Module{key: key, codec: codec, bank: bank}
}

// Name is "royalty".
func (m *Module) Name() string { return ModuleName }

// ModuleAccounts is the pool (chain.ModuleAccountHolder): the bank exempts
// it from holding caps and transfer policies.
func (m *Module) ModuleAccounts() []chain.Address { return []chain.Address{PoolAccount()} }

// blockTime is the block's time in Unix seconds: the only clock royalty
// reads. (One helper, so a dedicated block-time type is one change.)
func blockTime(ctx *chain.Context) int64 {
	if ctx == nil {
		return 0
	}
	return ctx.Block.Time.Unix()
}

// st is one message's (or one query's) view of the module's state.
type st struct {
	m   *Module
	ctx *chain.Context // nil in queries
	r   chain.KVReader
	kv  chain.KVStore // nil in queries
	now int64
}

func (m *Module) open(ctx *chain.Context) *st {
	kv := ctx.Store(m.key)
	return &st{m: m, ctx: ctx, r: kv, kv: kv, now: blockTime(ctx)}
}

func (s *st) height() uint64 {
	if s.ctx == nil {
		return 0
	}
	return s.ctx.Block.Height
}

func (s *st) emit(typ string, kv ...string) error {
	if s.ctx == nil {
		return nil
	}
	attrs := make([]chain.Attr, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		attrs = append(attrs, chain.Attr{Key: kv[i], Value: kv[i+1]})
	}
	return s.ctx.Emit(typ, attrs...)
}

func (s *st) get(key []byte, v any) (bool, error) {
	b, err := s.r.Get(key)
	if err != nil || b == nil {
		return false, err
	}
	if err := s.m.codec.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%w: %q: %v", ErrCorrupt, key, err)
	}
	return true, nil
}

func (s *st) put(key []byte, v any) error {
	b, err := s.m.codec.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	return s.kv.Set(key, b)
}

func (s *st) getU64(key []byte) (uint64, error) {
	v, err := s.r.Get(key)
	if err != nil || v == nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: value of %q has %d bytes", ErrCorrupt, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func (s *st) setU64(key []byte, v uint64) error {
	if v == 0 {
		return s.kv.Delete(key)
	}
	return s.kv.Set(key, be64(nil, v))
}

func (s *st) registry() (*Registry, error) {
	var r Registry
	ok, err := s.get([]byte(pRegistry), &r)
	if err != nil {
		return nil, err
	}
	if !ok {
		r = DefaultRegistry()
	}
	return &r, nil
}

func (s *st) work(id string) (*Work, error) {
	var w Work
	ok, err := s.get(keyWork(id), &w)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %w %q", chain.ErrInvalidMsg, ErrUnknownWork, id)
	}
	return &w, nil
}

func (s *st) split(id string) (*Split, error) {
	var sp Split
	ok, err := s.get(keySplit(id), &sp)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %w %q", chain.ErrInvalidMsg, ErrUnknownSplit, id)
	}
	return &sp, nil
}

func (s *st) pool(split, denom string) (*Pool, error) {
	var p Pool
	_, err := s.get(keyPool(split, denom), &p)
	return &p, err
}

func (s *st) holding(split string, a chain.Address) (*Holding, error) {
	var h Holding
	_, err := s.get(keyHolding(split, a), &h)
	return &h, err
}

func u64s(v uint64) string { return strconv.FormatUint(v, 10) }

// Deliver executes one message.
func (m *Module) Deliver(ctx *chain.Context, msg chain.Msg) error {
	err := m.deliver(ctx, msg)
	if err != nil && errors.Is(err, ErrOverflow) && !errors.Is(err, chain.ErrInvalidMsg) {
		err = fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err) // an amount that overflows is the message's fault
	}
	return err
}

func (m *Module) deliver(ctx *chain.Context, msg chain.Msg) error {
	s := m.open(ctx)
	from := ctx.Sender
	dec := func(v any) error { return msg.DecodeBody(m.codec, v) }
	switch msg.Type {
	case TypeCreateSplit:
		var b CreateSplit
		if err := dec(&b); err != nil {
			return err
		}
		return s.createSplitMsg(from, b)
	case TypeRegister:
		var b Register
		if err := dec(&b); err != nil {
			return err
		}
		return s.register(from, b)
	case TypePay:
		var b Pay
		if err := dec(&b); err != nil {
			return err
		}
		return s.pay(from, b)
	case TypeClaim:
		var b Claim
		if err := dec(&b); err != nil {
			return err
		}
		return s.claim(from, b)
	case TypeTransfer:
		var b Transfer
		if err := dec(&b); err != nil {
			return err
		}
		return s.transferMsg(from, b)
	case TypeProposeTerms:
		var b ProposeTerms
		if err := dec(&b); err != nil {
			return err
		}
		return s.proposeTerms(from, b)
	case TypeProposeFee:
		var b ProposeFee
		if err := dec(&b); err != nil {
			return err
		}
		return s.proposeFee(from, b)
	case TypeGrantPlatform, TypeRevokePlatform:
		var b PlatformChange
		if err := dec(&b); err != nil {
			return err
		}
		return s.platformChange(from, b, msg.Type == TypeGrantPlatform)
	case TypeReport:
		var b SubmitReport
		if err := dec(&b); err != nil {
			return err
		}
		return s.report(from, b)
	case TypeSell:
		var b Sell
		if err := dec(&b); err != nil {
			return err
		}
		return s.sell(from, b)
	case TypeBuy:
		var b Buy
		if err := dec(&b); err != nil {
			return err
		}
		return s.buy(from, b)
	case TypeCancelOrder:
		var b CancelOrder
		if err := dec(&b); err != nil {
			return err
		}
		return s.cancelOrder(from, b)
	case TypeOpenAuction:
		var b OpenAuction
		if err := dec(&b); err != nil {
			return err
		}
		return s.openAuction(from, b)
	case TypeBid:
		var b PlaceBid
		if err := dec(&b); err != nil {
			return err
		}
		return s.bid(from, b)
	case TypeCloseAuction:
		var b CloseAuction
		if err := dec(&b); err != nil {
			return err
		}
		return s.closeAuction(b)
	}
	return fmt.Errorf("%w: royalty %q", chain.ErrUnknownMsg, msg.Type)
}

// EndBlock applies terms changes whose timelock has passed, at most
// MaxDueTermsPerBlk per block (the rest next block).
func (m *Module) EndBlock(ctx *chain.Context) error {
	s := m.open(ctx)
	var due [][]byte
	err := s.r.Iterate([]byte(pDueTerms), func(k, _ []byte) (bool, error) {
		if len(k) < len(pDueTerms)+9 {
			return true, fmt.Errorf("%w: due key %x", ErrCorrupt, k)
		}
		if int64(binary.BigEndian.Uint64(k[len(pDueTerms):])) > s.now {
			return true, nil
		}
		due = append(due, append([]byte{}, k...))
		return len(due) >= MaxDueTermsPerBlk, nil
	})
	if err != nil {
		return fmt.Errorf("royalty: due terms: %w", err)
	}
	for _, k := range due {
		work := string(k[len(pDueTerms)+9:])
		if err := s.applyDue(work); err != nil {
			return fmt.Errorf("royalty: apply terms of %q: %w", work, err)
		}
		if err := s.kv.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func (s *st) applyDue(work string) error {
	if work == "" {
		r, err := s.registry()
		if err != nil {
			return err
		}
		if r.PendingAt == 0 || r.PendingAt > s.now {
			return nil
		}
		old := r.PlatformBps
		r.PlatformBps, r.PendingPlatformBps, r.PendingAt = r.PendingPlatformBps, 0, 0
		if err := s.put([]byte(pRegistry), r); err != nil {
			return err
		}
		return s.emit("royalty.fee_changed", "old_bps", u64s(uint64(old)), "platform_bps", u64s(uint64(r.PlatformBps)))
	}
	var w Work
	if ok, err := s.get(keyWork(work), &w); err != nil || !ok {
		return err // a due entry of no work (an edited genesis) is dropped
	}
	if w.PendingAt == 0 || w.PendingAt > s.now {
		return nil
	}
	old := w.ResaleBps
	w.ResaleBps, w.PendingResaleBps, w.PendingAt = w.PendingResaleBps, 0, 0
	if err := s.put(keyWork(work), &w); err != nil {
		return err
	}
	return s.emit("royalty.terms_changed", "work", work, "old_bps", u64s(uint64(old)), "resale_bps", u64s(uint64(w.ResaleBps)))
}
