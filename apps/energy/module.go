package energy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/dure-network/dure/chain"
)

// Bank is what energy needs from the module holding balances; the
// currency module satisfies it. Transfer must either move the whole amount
// or change nothing and return an error.
type Bank interface {
	Transfer(ctx *chain.Context, from, to chain.Address, denom string, amount uint64) error
	Balance(ctx *chain.Context, addr chain.Address, denom string) (uint64, error)
}

// Module is the energy application module.
type Module struct {
	key    *chain.StoreKey
	codec  *chain.Codec
	bank   Bank
	params Params
}

// The capabilities energy holds, besides chain.Module.
var (
	_ chain.Module              = (*Module)(nil)
	_ chain.EndBlocker          = (*Module)(nil)
	_ chain.GenesisExporter     = (*Module)(nil)
	_ chain.ModuleAccountHolder = (*Module)(nil)
	_ chain.Describer           = (*Module)(nil)
)

// New builds the module over its store key, settling through bank (the
// currency module). Zero params fields take their defaults.
func New(key *chain.StoreKey, codec *chain.Codec, bank Bank, params Params) *Module {
	d := DefaultParams()
	if params.MaxIntervalsPerBlock <= 0 {
		params.MaxIntervalsPerBlock = d.MaxIntervalsPerBlock
	}
	if params.MaxOrdersPerInterval <= 0 {
		params.MaxOrdersPerInterval = d.MaxOrdersPerInterval
	}
	if params.MaxWorkPerBlock <= 0 {
		params.MaxWorkPerBlock = d.MaxWorkPerBlock
	}
	return &Module{key: key, codec: codec, bank: bank, params: params}
}

// Name is "energy".
func (m *Module) Name() string { return ModuleName }

// ModuleAccounts declares the escrow account (chain.ModuleAccountHolder),
// so currencies with holding caps or merchants-only transfer still let
// bids be escrowed and paid out.
func (m *Module) ModuleAccounts() []chain.Address { return []chain.Address{EscrowAccount()} }

// blockTime is the only place energy reads time: the block's, in Unix
// seconds.
func blockTime(ctx *chain.Context) int64 { return ctx.Block.Time.Unix() }

// keeper is the module's state for one message, genesis or EndBlock.
type keeper struct {
	m   *Module
	ctx *chain.Context
	kv  chain.KVStore
	now int64
}

func (m *Module) keeper(ctx *chain.Context) *keeper {
	return &keeper{m: m, ctx: ctx, kv: ctx.Store(m.key), now: blockTime(ctx)}
}

func (k *keeper) emit(typ string, kv ...string) error {
	attrs := make([]chain.Attr, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		attrs = append(attrs, chain.Attr{Key: kv[i], Value: kv[i+1]})
	}
	return k.ctx.Emit(typ, attrs...)
}

func u64s(v uint64) string { return strconv.FormatUint(v, 10) }
func i64s(v int64) string  { return strconv.FormatInt(v, 10) }

func getRecord(c *chain.Codec, r chain.KVReader, key []byte, v any) (bool, error) {
	b, err := r.Get(key)
	if err != nil || b == nil {
		return false, err
	}
	if err := c.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%w: %x: %v", ErrCorrupt, key, err)
	}
	return true, nil
}

func (k *keeper) get(key []byte, v any) (bool, error) { return getRecord(k.m.codec, k.kv, key, v) }

func (k *keeper) set(key []byte, v any) error {
	b, err := k.m.codec.Marshal(v)
	if err != nil {
		return err
	}
	return k.kv.Set(key, b)
}

func (k *keeper) getU64(key []byte) (uint64, error) {
	b, err := k.kv.Get(key)
	if err != nil || b == nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: %x", ErrCorrupt, key)
	}
	return binary.BigEndian.Uint64(b), nil
}

func (k *keeper) setU64(key []byte, v uint64) error {
	if v == 0 {
		return k.kv.Delete(key)
	}
	return k.kv.Set(key, be64(nil, v))
}

func (k *keeper) nextID() (uint64, error) {
	n, err := k.getU64([]byte(keySeq))
	if err != nil {
		return 0, err
	}
	n++
	return n, k.setU64([]byte(keySeq), n)
}

func (k *keeper) market(id string) (*Market, error) {
	var mk Market
	ok, err := k.get(keyMarket(id), &mk)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %w: %q", chain.ErrInvalidMsg, ErrUnknownMarket, id)
	}
	return &mk, nil
}

func (k *keeper) meter(id string) (*Meter, error) {
	var mt Meter
	ok, err := k.get(keyMeter(id), &mt)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %w: %q", chain.ErrInvalidMsg, ErrUnknownMeter, id)
	}
	return &mt, nil
}

// activeMeter is a meter that may read and trade: attested, not suspended.
func (k *keeper) activeMeter(id string) (*Meter, error) {
	mt, err := k.meter(id)
	if err != nil {
		return nil, err
	}
	if !mt.Attested {
		return nil, fmt.Errorf("%w: %w: %q", chain.ErrUnauthorized, ErrNotAttested, id)
	}
	if mt.Suspended {
		return nil, fmt.Errorf("%w: %w: %q", chain.ErrUnauthorized, ErrSuspended, id)
	}
	return mt, nil
}

func (k *keeper) isOperator(mk string, a chain.Address) (bool, error) {
	b, err := k.kv.Get(keyOperator(mk, a))
	return b != nil, err
}

func (k *keeper) requireOperator(mk string, a chain.Address) error {
	ok, err := k.isOperator(mk, a)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %w: %s in %q", chain.ErrUnauthorized, ErrNotOperator, a, mk)
	}
	return nil
}

// pay moves amount (nothing when 0) of mk's denom and records why.
func (k *keeper) pay(mk *Market, from, to chain.Address, amount uint64, reason string, ref ...string) error {
	if amount == 0 {
		return nil
	}
	if err := k.m.bank.Transfer(k.ctx, from, to, mk.Denom, amount); err != nil {
		return fmt.Errorf("%s of %d %s: %w", reason, amount, mk.Denom, err)
	}
	return k.emit("energy.payment", append([]string{"reason", reason, "from", from.String(), "to", to.String(),
		"denom", mk.Denom, "amount", u64s(amount)}, ref...)...)
}

// payOrKeep is pay for block-level settlement, which must not fail: a
// transfer the currency refuses (e.g. a voucher that has ended) leaves the
// funds where they are, with an event saying so.
func (k *keeper) payOrKeep(mk *Market, from, to chain.Address, amount uint64, reason string, ref ...string) (uint64, error) {
	err := k.pay(mk, from, to, amount, reason, ref...)
	if err == nil {
		return amount, nil
	}
	if errors.Is(err, chain.ErrInvalidMsg) || errors.Is(err, chain.ErrInsufficient) || errors.Is(err, chain.ErrUnauthorized) {
		return 0, k.emit("energy.payment_failed", append([]string{"reason", reason, "from", from.String(), "to", to.String(),
			"denom", mk.Denom, "amount", u64s(amount), "error", err.Error()}, ref...)...)
	}
	return 0, err
}

// Deliver executes one message.
func (m *Module) Deliver(ctx *chain.Context, msg chain.Msg) error {
	err := m.deliver(ctx, msg)
	if errors.Is(err, ErrOverflow) && !errors.Is(err, chain.ErrInvalidMsg) {
		err = fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err) // the message's numbers
	}
	return err
}

func decode[T any](m *Module, msg chain.Msg) (T, error) {
	var v T
	err := msg.DecodeBody(m.codec, &v)
	return v, err
}

func (m *Module) deliver(ctx *chain.Context, msg chain.Msg) error {
	k := m.keeper(ctx)
	s := ctx.Sender
	switch msg.Type {
	case TypeCreateMarket:
		b, err := decode[CreateMarket](m, msg)
		if err != nil {
			return err
		}
		return k.createMarket(s, b.Market)
	case TypeGrantOperator, TypeRevokeOperator:
		b, err := decode[OperatorChange](m, msg)
		if err != nil {
			return err
		}
		return k.operatorChange(s, b, msg.Type == TypeGrantOperator)
	case TypeRegisterMeter:
		b, err := decode[RegisterMeter](m, msg)
		if err != nil {
			return err
		}
		return k.registerMeter(s, b)
	case TypeAttestMeter:
		b, err := decode[MeterAction](m, msg)
		if err != nil {
			return err
		}
		return k.attestMeter(s, b)
	case TypeSuspendMeter:
		b, err := decode[MeterAction](m, msg)
		if err != nil {
			return err
		}
		return k.suspendMeter(s, b)
	case TypeSubmitReadings:
		b, err := decode[SubmitReadings](m, msg)
		if err != nil {
			return err
		}
		return k.submitReadings(b.Readings)
	case TypeCorrectReading:
		b, err := decode[CorrectReading](m, msg)
		if err != nil {
			return err
		}
		return k.correctReading(s, b)
	case TypeOffer, TypeBid:
		b, err := decode[PlaceOrder](m, msg)
		if err != nil {
			return err
		}
		side := SideSell
		if msg.Type == TypeBid {
			side = SideBuy
		}
		return k.placeOrder(s, side, b)
	case TypeCancel:
		b, err := decode[Cancel](m, msg)
		if err != nil {
			return err
		}
		return k.cancel(s, b.Order)
	case TypeStartSession:
		b, err := decode[StartSession](m, msg)
		if err != nil {
			return err
		}
		return k.startSession(s, b)
	case TypeEndSession:
		b, err := decode[EndSession](m, msg)
		if err != nil {
			return err
		}
		return k.endSession(b.Reading)
	}
	return fmt.Errorf("%w: energy has no message %q", chain.ErrUnknownMsg, msg.Type)
}

// EndBlock clears intervals whose gate has closed, settles intervals
// whose reading deadline has passed and expires charging sessions without
// a reading, oldest first. Work is bounded: at most
// Params.MaxIntervalsPerBlock intervals, and no more than
// Params.MaxWorkPerBlock orders cleared plus trades settled (an interval
// larger than that is taken alone); the rest wait for the next blocks, in
// the same order.
func (m *Module) EndBlock(ctx *chain.Context) error {
	k := m.keeper(ctx)
	budget := m.params.MaxIntervalsPerBlock
	work := 0
	fits := func(n int) bool { return work == 0 || work+n <= m.params.MaxWorkPerBlock }
	due, err := k.dueQueue(pGateQ, budget)
	if err != nil {
		return err
	}
	for _, q := range due {
		n, err := k.getU64(keyCount(q.market, q.interval))
		if err != nil {
			return err
		}
		if !fits(int(n)) {
			return k.expireSessions(m.params.MaxIntervalsPerBlock)
		}
		if err := k.kv.Delete(q.key); err != nil {
			return err
		}
		if err := k.clear(q.market, q.interval); err != nil {
			return fmt.Errorf("energy: clear %s at %d: %w", q.market, q.interval, err)
		}
		work += int(n)
		budget--
	}
	if due, err = k.dueQueue(pSettleQ, budget); err != nil {
		return err
	}
	for _, q := range due {
		var cl Clearing
		if _, err := k.get(keyClearing(q.market, q.interval), &cl); err != nil {
			return err
		}
		if !fits(int(cl.Trades)) {
			break
		}
		if err := k.kv.Delete(q.key); err != nil {
			return err
		}
		if err := k.settle(q.market, q.interval); err != nil {
			return fmt.Errorf("energy: settle %s at %d: %w", q.market, q.interval, err)
		}
		work += int(cl.Trades)
	}
	return k.expireSessions(m.params.MaxIntervalsPerBlock)
}

type queued struct {
	key      []byte
	market   string
	interval int64
}

// dueQueue lists up to n entries of a time queue that are due now.
func (k *keeper) dueQueue(prefix string, n int) ([]queued, error) {
	var out []queued
	if n <= 0 {
		return nil, nil
	}
	err := k.kv.Iterate([]byte(prefix), func(key, _ []byte) (bool, error) {
		if len(key) < len(prefix)+16 {
			return true, fmt.Errorf("%w: queue key %x", ErrCorrupt, key)
		}
		at, t, mk := parseQueue(key)
		if at > k.now {
			return true, nil
		}
		out = append(out, queued{key: append([]byte(nil), key...), market: mk, interval: t})
		return len(out) >= n, nil
	})
	return out, err
}
