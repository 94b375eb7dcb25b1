package currency

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"

	"github.com/dure-network/dure/chain"
)

// ledger is the module's state for one message, genesis or EndBlock (kv
// writable) or for a query (ctx nil, kv read-only through reader).
type ledger struct {
	m   *Module
	ctx *chain.Context
	r   chain.KVReader
	kv  chain.KVStore // nil for queries
	at  chain.Time    // block time (zero for queries)
	// now is at in whole seconds: lot expiries, demurrage and settlement
	// times are kept in seconds (their state encoding).
	now int64
}

func (m *Module) ledger(ctx *chain.Context) *ledger {
	kv := ctx.Store(m.key)
	return &ledger{m: m, ctx: ctx, r: kv, kv: kv, at: ctx.Block.Time, now: ctx.Block.Time.Unix()}
}

// isModuleAccount: the module accounts in Params, the fee collector, and
// every account a module declared to the executor (ctx.IsModuleAccount).
func (l *ledger) isModuleAccount(a chain.Address) bool {
	return l.m.isModuleAccount(a) || l.ctx.IsModuleAccount(a)
}

func (l *ledger) emit(typ string, kv ...string) error {
	if l.ctx == nil {
		return nil
	}
	attrs := make([]chain.Attr, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		attrs = append(attrs, chain.Attr{Key: kv[i], Value: kv[i+1]})
	}
	return l.ctx.Emit(typ, attrs...)
}

func u64s(v uint64) string { return strconv.FormatUint(v, 10) }

func getU64(r chain.KVReader, key []byte) (uint64, error) {
	v, err := r.Get(key)
	if err != nil || v == nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: value of %q has %d bytes", ErrCorrupt, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func (l *ledger) setU64(key []byte, v uint64) error {
	if v == 0 {
		return l.kv.Delete(key)
	}
	return l.kv.Set(key, be64(nil, v))
}

func (l *ledger) setRecord(key []byte, v any) error {
	b, err := l.m.codec.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	return l.kv.Set(key, b)
}

func (l *ledger) currency(denom string) (*Currency, error) {
	key := keyCurrency(denom)
	b, err := l.r.Get(key)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownDenom, denom)
	}
	if r, ok := l.m.records.get(key, b); ok && r.cur != nil {
		c := copyCurrency(r.cur)
		return &c, nil
	}
	var c Currency
	if err := l.m.codec.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrCorrupt, key, err)
	}
	kept := copyCurrency(&c)
	l.m.records.put(key, cachedRecord{raw: b, cur: &kept})
	return &c, nil
}

// merchantRecord reads the merchant record under key (nil if absent),
// decoding it only when its bytes differ from the cached ones.
func (l *ledger) merchantRecord(key []byte) (*Merchant, error) {
	b, err := l.r.Get(key)
	if err != nil || b == nil {
		return nil, err
	}
	if r, ok := l.m.records.get(key, b); ok && r.mr != nil {
		mr := copyMerchant(r.mr)
		return &mr, nil
	}
	var mr Merchant
	if err := l.m.codec.Unmarshal(b, &mr); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrCorrupt, key, err)
	}
	kept := copyMerchant(&mr)
	l.m.records.put(key, cachedRecord{raw: b, mr: &kept})
	return &mr, nil
}

func (l *ledger) nativeDenom() (string, error) {
	v, err := l.r.Get([]byte(pNative))
	if err != nil {
		return "", err
	}
	if v == nil {
		return "", fmt.Errorf("%w: no native denom (genesis not loaded)", ErrUnknownDenom)
	}
	return string(v), nil
}

// balance is a stored balance: amount and, for demurrage currencies, the
// time up to which demurrage has been charged.
type balance struct {
	amount uint64
	since  int64
}

func (l *ledger) balance(addr chain.Address, denom string) (balance, error) {
	v, err := l.r.Get(keyBalance(addr, denom))
	if err != nil || v == nil {
		return balance{}, err
	}
	switch len(v) {
	case 8:
		return balance{amount: binary.BigEndian.Uint64(v)}, nil
	case 16:
		return balance{amount: binary.BigEndian.Uint64(v), since: int64(binary.BigEndian.Uint64(v[8:]))}, nil
	}
	return balance{}, fmt.Errorf("%w: balance of %s %s has %d bytes", ErrCorrupt, addr, denom, len(v))
}

// setBalance writes a balance and keeps the holder index in step with
// zero/non-zero transitions.
func (l *ledger) setBalance(c *Currency, addr chain.Address, old, b balance) error {
	if b.amount == 0 {
		if old.amount == 0 {
			return nil
		}
		if err := l.kv.Delete(keyBalance(addr, c.Denom)); err != nil {
			return err
		}
		return l.kv.Delete(keyHolder(c.Denom, addr))
	}
	v := be64(make([]byte, 0, 16), b.amount)
	if c.Rules.DemurrageBP > 0 {
		v = timeKey(v, b.since)
	}
	if err := l.kv.Set(keyBalance(addr, c.Denom), v); err != nil {
		return err
	}
	if old.amount == 0 {
		return l.kv.Set(keyHolder(c.Denom, addr), marker)
	}
	return nil
}

func (l *ledger) addSupply(denom string, delta uint64, add bool) error {
	if delta == 0 {
		return nil
	}
	s, err := getU64(l.r, keySupply(denom))
	if err != nil {
		return err
	}
	if add {
		if s+delta < s {
			return fmt.Errorf("%w: supply of %s", ErrOverflow, denom)
		}
		s += delta
	} else {
		if delta > s {
			return fmt.Errorf("%w: supply of %s below zero", ErrCorrupt, denom)
		}
		s -= delta
	}
	return l.setU64(keySupply(denom), s)
}

// piece is part of a transfer that keeps its lot's expiry.
type piece struct {
	exp    int64
	amount uint64
}

type lot struct {
	exp    int64
	amount uint64
}

// lots reads an account's lots, oldest first; stop (if set) ends the scan
// once it returns true.
func (l *ledger) lots(denom string, addr chain.Address, stop func(lot) bool) ([]lot, error) {
	prefix := keyLotPrefix(denom, addr)
	var out []lot
	err := l.r.Iterate(prefix, func(k, v []byte) (bool, error) {
		if len(k) != len(prefix)+8 || len(v) != 8 {
			return true, fmt.Errorf("%w: lot key %x", ErrCorrupt, k)
		}
		lt := lot{exp: int64(binary.BigEndian.Uint64(k[len(prefix):])), amount: binary.BigEndian.Uint64(v)}
		out = append(out, lt)
		return stop != nil && stop(lt), nil
	})
	return out, err
}

// addLot credits amount to the lot expiring at exp, queueing its expiry.
func (l *ledger) addLot(denom string, addr chain.Address, exp int64, amount uint64) error {
	k := keyLot(denom, addr, exp)
	cur, err := getU64(l.r, k)
	if err != nil {
		return err
	}
	if cur+amount < cur {
		return fmt.Errorf("%w: lot of %s", ErrOverflow, addr)
	}
	if cur == 0 {
		if err := l.kv.Set(keyExpiry(exp, addr, denom), marker); err != nil {
			return err
		}
	}
	return l.kv.Set(k, be64(nil, cur+amount))
}

// takeLots removes amount from the oldest lots and returns the pieces
// taken. The caller has checked that the lots hold enough.
func (l *ledger) takeLots(denom string, addr chain.Address, amount uint64) ([]piece, error) {
	var acc uint64
	ls, err := l.lots(denom, addr, func(lt lot) bool { acc += lt.amount; return acc >= amount })
	if err != nil {
		return nil, err
	}
	var out []piece
	for _, lt := range ls {
		if amount == 0 {
			break
		}
		take := min(lt.amount, amount)
		amount -= take
		out = append(out, piece{exp: lt.exp, amount: take})
		if take == lt.amount {
			if err := l.kv.Delete(keyLot(denom, addr, lt.exp)); err != nil {
				return nil, err
			}
			if err := l.kv.Delete(keyExpiry(lt.exp, addr, denom)); err != nil {
				return nil, err
			}
		} else if err := l.kv.Set(keyLot(denom, addr, lt.exp), be64(nil, lt.amount-take)); err != nil {
			return nil, err
		}
	}
	if amount != 0 {
		return nil, fmt.Errorf("%w: lots of %s %s short by %d", ErrCorrupt, addr, denom, amount)
	}
	return out, nil
}

// touch brings an account up to date before it is used: it burns lots that
// have expired and charges pending demurrage. Both leave a consistent state
// on their own, so a later failure of the message does no harm.
func (l *ledger) touch(c *Currency, addr chain.Address) (balance, error) {
	old, err := l.balance(addr, c.Denom)
	if err != nil {
		return old, err
	}
	b := old
	var burned uint64
	if c.expires() && b.amount > 0 {
		expired, err := l.lots(c.Denom, addr, func(lt lot) bool { return lt.exp > l.now })
		if err != nil {
			return old, err
		}
		for _, lt := range expired {
			if lt.exp > l.now {
				break
			}
			if err := l.removeLot(c.Denom, addr, lt); err != nil {
				return old, err
			}
			if lt.amount > b.amount {
				return old, fmt.Errorf("%w: lots of %s %s exceed balance", ErrCorrupt, addr, c.Denom)
			}
			b.amount -= lt.amount
			burned += lt.amount
		}
	}
	if c.Rules.DemurrageBP > 0 {
		if b.amount == 0 {
			b.since = l.now
		} else if periods := (l.now - b.since) / c.Rules.DemurragePeriod; periods > 0 {
			periods = min(periods, maxDemurrageSteps)
			left := b.amount
			for i := int64(0); i < periods && left > 0; i++ {
				hi, lo := bits.Mul64(left, uint64(c.Rules.DemurrageBP))
				q, _ := bits.Div64(hi, lo, 10000) // hi < 10000 because bp <= 10000
				left -= q
			}
			b.since += periods * c.Rules.DemurragePeriod
			if charge := b.amount - left; charge > 0 {
				if c.expires() {
					if _, err := l.takeLots(c.Denom, addr, charge); err != nil {
						return old, err
					}
				}
				b.amount = left
				burned += charge
				if err := l.emit("currency.demurrage", "address", addr.String(), "denom", c.Denom, "amount", u64s(charge)); err != nil {
					return old, err
				}
			}
		}
	}
	if b != old {
		if err := l.setBalance(c, addr, old, b); err != nil {
			return old, err
		}
	}
	return b, l.addSupply(c.Denom, burned, false)
}

func (l *ledger) removeLot(denom string, addr chain.Address, lt lot) error {
	if err := l.kv.Delete(keyLot(denom, addr, lt.exp)); err != nil {
		return err
	}
	if err := l.kv.Delete(keyExpiry(lt.exp, addr, denom)); err != nil {
		return err
	}
	return l.emit("currency.expire", "address", addr.String(), "denom", denom, "amount", u64s(lt.amount),
		"expired_at", strconv.FormatInt(lt.exp, 10))
}

// capExempt: the issuer, merchants and module accounts may hold any amount.
func (l *ledger) capExempt(c *Currency, addr chain.Address) (bool, error) {
	if addr == c.Issuer || l.isModuleAccount(addr) {
		return true, nil
	}
	mr, err := l.merchantRecord(keyMerchant(c.Denom, addr))
	return mr != nil, err
}

// credit adds amount to addr (pieces keep their expiry; nil pieces with an
// expiring currency means a fresh mint). The caller has touched addr.
func (l *ledger) credit(c *Currency, addr chain.Address, b balance, amount uint64, pieces []piece, checkCap bool) error {
	if amount == 0 {
		return nil
	}
	nb := b
	nb.amount = b.amount + amount
	if nb.amount < b.amount {
		return fmt.Errorf("%w: balance of %s %s", ErrOverflow, addr, c.Denom)
	}
	if checkCap && c.Rules.HoldingCap > 0 && nb.amount > c.Rules.HoldingCap {
		exempt, err := l.capExempt(c, addr)
		if err != nil {
			return err
		}
		if !exempt {
			return fmt.Errorf("%w: %w: %s would hold %d %s, cap %d", chain.ErrInvalidMsg, ErrCapExceeded, addr, nb.amount, c.Denom, c.Rules.HoldingCap)
		}
	}
	if b.amount == 0 {
		nb.since = l.now
	}
	if c.expires() {
		if pieces == nil {
			exp, err := c.lotExpiry(l.now)
			if err != nil {
				return err
			}
			pieces = []piece{{exp: exp, amount: amount}}
		}
		for _, p := range pieces {
			if err := l.addLot(c.Denom, addr, p.exp, p.amount); err != nil {
				return err
			}
		}
	}
	return l.setBalance(c, addr, b, nb)
}

// debit removes amount from addr (touched, balance b), oldest lots first.
func (l *ledger) debit(c *Currency, addr chain.Address, b balance, amount uint64) ([]piece, error) {
	if amount > b.amount {
		return nil, fmt.Errorf("%w: %w: %s has %d %s, needs %d", chain.ErrInsufficient, ErrInsufficientBalance,
			addr, b.amount, c.Denom, amount)
	}
	var pieces []piece
	if c.expires() {
		var err error
		if pieces, err = l.takeLots(c.Denom, addr, amount); err != nil {
			return nil, err
		}
	}
	nb := b
	nb.amount -= amount
	return pieces, l.setBalance(c, addr, b, nb)
}

// move transfers amount keeping lot expiries. All checks that can fail on
// user input (balance, cap, overflow) run before the first write.
func (l *ledger) move(c *Currency, from, to chain.Address, amount uint64, checkCap bool) error {
	if amount == 0 {
		return fmt.Errorf("%w: zero amount", chain.ErrInvalidMsg)
	}
	fb, err := l.touch(c, from)
	if err != nil {
		return err
	}
	if from == to {
		if amount > fb.amount {
			return fmt.Errorf("%w: %w: %s has %d %s, needs %d", chain.ErrInsufficient, ErrInsufficientBalance,
				from, fb.amount, c.Denom, amount)
		}
		return nil
	}
	tb, err := l.touch(c, to)
	if err != nil {
		return err
	}
	if amount > fb.amount {
		return fmt.Errorf("%w: %w: %s has %d %s, needs %d", chain.ErrInsufficient, ErrInsufficientBalance,
			from, fb.amount, c.Denom, amount)
	}
	if tb.amount+amount < tb.amount {
		return fmt.Errorf("%w: balance of %s %s", ErrOverflow, to, c.Denom)
	}
	if checkCap && c.Rules.HoldingCap > 0 && tb.amount+amount > c.Rules.HoldingCap {
		exempt, err := l.capExempt(c, to)
		if err != nil {
			return err
		}
		if !exempt {
			return fmt.Errorf("%w: %w: %s would hold %d %s, cap %d", chain.ErrInvalidMsg, ErrCapExceeded, to, tb.amount+amount, c.Denom, c.Rules.HoldingCap)
		}
	}
	pieces, err := l.debit(c, from, fb, amount)
	if err != nil {
		return err
	}
	return l.credit(c, to, tb, amount, pieces, false)
}

// mint creates amount at to, as a fresh lot.
func (l *ledger) mint(c *Currency, to chain.Address, amount uint64, checkCap bool) error {
	if amount == 0 {
		return fmt.Errorf("%w: zero amount", chain.ErrInvalidMsg)
	}
	s, err := getU64(l.r, keySupply(c.Denom))
	if err != nil {
		return err
	}
	if s+amount < s {
		return fmt.Errorf("%w: supply of %s", ErrOverflow, c.Denom)
	}
	tb, err := l.touch(c, to)
	if err != nil {
		return err
	}
	if err := l.credit(c, to, tb, amount, nil, checkCap); err != nil {
		return err
	}
	return l.addSupply(c.Denom, amount, true)
}

// burn destroys amount held by from, oldest lots first.
func (l *ledger) burn(c *Currency, from chain.Address, amount uint64) error {
	if amount == 0 {
		return fmt.Errorf("%w: zero amount", chain.ErrInvalidMsg)
	}
	fb, err := l.touch(c, from)
	if err != nil {
		return err
	}
	if _, err := l.debit(c, from, fb, amount); err != nil {
		return err
	}
	return l.addSupply(c.Denom, amount, false)
}

func (l *ledger) hasRole(c *Currency, r Role, addr chain.Address) (bool, error) {
	if addr == c.Issuer {
		return true, nil
	}
	v, err := l.r.Get(keyRole(c.Denom, r, addr))
	return v != nil, err
}

func (l *ledger) requireRole(c *Currency, r Role, addr chain.Address) error {
	ok, err := l.hasRole(c, r, addr)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %w: %s is not %s of %s", chain.ErrUnauthorized, ErrWrongRole, addr, r, c.Denom)
	}
	return nil
}

func (l *ledger) merchant(denom string, addr chain.Address) (*Merchant, error) {
	return l.merchantRecord(keyMerchant(denom, addr))
}

// checkMerchantPayment: the recipient must be an active merchant of the
// currency and, for vouchers, registered in an allowed category (cat, when
// given, must be one of them).
func (l *ledger) checkMerchantPayment(c *Currency, to chain.Address, cat string) error {
	mr, err := l.merchant(c.Denom, to)
	if err != nil {
		return err
	}
	if mr == nil {
		return fmt.Errorf("%w: %w: %s for %s", chain.ErrInvalidMsg, ErrNotMerchant, to, c.Denom)
	}
	if mr.Suspended {
		return fmt.Errorf("%w: %w: %s for %s", chain.ErrInvalidMsg, ErrMerchantSuspended, to, c.Denom)
	}
	if cat != "" {
		if !contains(mr.Categories, cat) || !c.allowsCategory(cat) {
			return fmt.Errorf("%w: %w: %q at %s for %s", chain.ErrInvalidMsg, ErrCategoryNotAllowed, cat, to, c.Denom)
		}
		return nil
	}
	if len(c.Rules.Categories) > 0 {
		for _, mc := range mr.Categories {
			if c.allowsCategory(mc) {
				return nil
			}
		}
		return fmt.Errorf("%w: %w: merchant %s has none of %v", chain.ErrInvalidMsg, ErrCategoryNotAllowed, to, c.Rules.Categories)
	}
	return nil
}

func (l *ledger) checkSpendable(c *Currency) error {
	if c.ended(l.at) {
		return fmt.Errorf("%w: %w: %s ended at %s", chain.ErrInvalidMsg, ErrVoucherEnded, c.Denom, c.Rules.VoucherEnd)
	}
	return nil
}

// checkTransfer applies the currency's transfer policy to a holder transfer.
func (l *ledger) checkTransfer(c *Currency, from, to chain.Address) error {
	if err := l.checkSpendable(c); err != nil {
		return err
	}
	if from == c.Issuer || l.isModuleAccount(from) || l.isModuleAccount(to) {
		return nil
	}
	restricted := c.Rules.Transfer == TransferMerchants || len(c.Rules.Categories) > 0
	if !restricted {
		return nil
	}
	if to == c.Issuer {
		return nil
	}
	if err := l.checkMerchantPayment(c, to, ""); err != nil {
		if mr, _ := l.merchant(c.Denom, to); mr == nil {
			return fmt.Errorf("%w: %w: %s is not a merchant of %s", chain.ErrInvalidMsg, ErrTransferNotAllowed, to, c.Denom)
		}
		return err
	}
	return nil
}
