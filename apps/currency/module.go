package currency

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"

	"github.com/dure-network/dure/chain"
)

// Module is the currency application module. It implements chain.Module,
// chain.FeeCharger and the Bank methods other modules declare.
type Module struct {
	key    *chain.StoreKey
	codec  *chain.Codec
	params Params
	// modAccts is looked up, never iterated.
	modAccts map[chain.Address]bool
	// records skips decoding unchanged Currency and Merchant records.
	records *recordCache
}

// The capabilities currency holds, besides chain.Module.
var (
	_ chain.Module          = (*Module)(nil)
	_ chain.FeeCharger      = (*Module)(nil)
	_ chain.EndBlocker      = (*Module)(nil)
	_ chain.AccountReporter = (*Module)(nil)
	_ chain.Describer       = (*Module)(nil)
	_ chain.GenesisExporter = (*Module)(nil)
)

// AccountBalances answers the API's account endpoint
// (chain.AccountReporter): the "balances" query.
func (m *Module) AccountBalances(r chain.KVReader, a chain.Address) (any, error) {
	return m.Query(r, "balances", map[string]string{"address": a.String()})
}

// New builds the module over its store key. Zero params fields take their
// defaults.
func New(key *chain.StoreKey, codec *chain.Codec, params Params) *Module {
	if params.MaxExpiryPerBlock <= 0 {
		params.MaxExpiryPerBlock = DefaultParams().MaxExpiryPerBlock
	}
	m := &Module{key: key, codec: codec, params: params, modAccts: map[chain.Address]bool{FeeCollector(): true},
		records: &recordCache{}}
	for _, a := range params.ModuleAccounts {
		m.modAccts[a] = true
	}
	return m
}

// Name is "currency".
func (m *Module) Name() string { return ModuleName }

func (m *Module) isModuleAccount(a chain.Address) bool { return m.modAccts[a] }

func (m *Module) decode(msg chain.Msg, v any) error { return msg.DecodeBody(m.codec, v) }

// Deliver executes one message.
func (m *Module) Deliver(ctx *chain.Context, msg chain.Msg) error {
	err := m.deliver(ctx, msg)
	if errors.Is(err, ErrOverflow) && !errors.Is(err, chain.ErrInvalidMsg) {
		// An amount that would overflow is the message's fault.
		err = fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	return err
}

func (m *Module) deliver(ctx *chain.Context, msg chain.Msg) error {
	l := m.ledger(ctx)
	switch msg.Type {
	case TypeSend:
		b, ok := fastSend(msg.Body)
		if !ok {
			b = Send{}
			if err := m.decode(msg, &b); err != nil {
				return err
			}
		}
		return l.send(ctx.Sender, b)
	case TypePay:
		b, ok := fastPay(msg.Body)
		if !ok {
			b = Pay{}
			if err := m.decode(msg, &b); err != nil {
				return err
			}
		}
		return l.pay(ctx.Sender, b)
	case TypeCreate:
		var b Create
		if err := m.decode(msg, &b); err != nil {
			return err
		}
		return l.create(Currency{Denom: b.Denom, Issuer: ctx.Sender, Decimals: b.Decimals, Rules: b.Rules})
	case TypeMint:
		var b Mint
		if err := m.decode(msg, &b); err != nil {
			return err
		}
		return l.mintMsg(ctx.Sender, b)
	case TypeBurn:
		var b Burn
		if err := m.decode(msg, &b); err != nil {
			return err
		}
		return l.burnMsg(ctx.Sender, b)
	case TypeGrant, TypeRevoke:
		var b RoleChange
		if err := m.decode(msg, &b); err != nil {
			return err
		}
		return l.roleChange(ctx.Sender, b, msg.Type == TypeGrant)
	case TypeRegisterMerchant:
		var b RegisterMerchant
		if err := m.decode(msg, &b); err != nil {
			return err
		}
		return l.registerMerchant(ctx.Sender, b)
	case TypeSuspendMerchant:
		var b SuspendMerchant
		if err := m.decode(msg, &b); err != nil {
			return err
		}
		return l.suspendMerchant(ctx.Sender, b)
	case TypeRedeem:
		var b Redeem
		if err := m.decode(msg, &b); err != nil {
			return err
		}
		return l.redeem(ctx.Sender, b)
	case TypeConfirmHours:
		var b ConfirmHours
		if err := m.decode(msg, &b); err != nil {
			return err
		}
		return l.confirmHours(ctx.Sender, b)
	}
	return fmt.Errorf("%w: currency has no message %q", chain.ErrUnknownMsg, msg.Type)
}

func (l *ledger) send(from chain.Address, b Send) error {
	c, err := l.currency(b.Denom)
	if err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if err := l.checkTransfer(c, from, b.To); err != nil {
		return err
	}
	if err := l.move(c, from, b.To, b.Amount, true); err != nil {
		return err
	}
	return l.emit("currency.send", "from", from.String(), "to", b.To.String(), "denom", b.Denom, "amount", u64s(b.Amount))
}

func (l *ledger) pay(from chain.Address, b Pay) error {
	c, err := l.currency(b.Denom)
	if err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if err := l.checkSpendable(c); err != nil {
		return err
	}
	if err := l.checkMerchantPayment(c, b.Merchant, b.Category); err != nil {
		return err
	}
	if err := l.move(c, from, b.Merchant, b.Amount, false); err != nil {
		return err
	}
	return l.emit("currency.pay", "from", from.String(), "merchant", b.Merchant.String(), "denom", b.Denom,
		"amount", u64s(b.Amount), "category", b.Category)
}

func (l *ledger) create(c Currency) error {
	if err := validDenom(c.Denom); err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if c.Decimals > MaxDecimals {
		return fmt.Errorf("%w: %w: decimals %d above %d", chain.ErrInvalidMsg, ErrBadRules, c.Decimals, MaxDecimals)
	}
	if err := c.Rules.validate(); err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if v, err := l.r.Get(keyCurrency(c.Denom)); err != nil {
		return err
	} else if v != nil {
		return fmt.Errorf("%w: %w %q", chain.ErrInvalidMsg, ErrDenomExists, c.Denom)
	}
	if err := l.setRecord(keyCurrency(c.Denom), &c); err != nil {
		return err
	}
	if c.Rules.VoucherEnd > 0 {
		if err := l.kv.Set(keyVoucher(c.Rules.VoucherEnd, c.Denom), marker); err != nil {
			return err
		}
	}
	return l.emit("currency.create", "denom", c.Denom, "issuer", c.Issuer.String())
}

func (l *ledger) mintMsg(sender chain.Address, b Mint) error {
	c, err := l.currency(b.Denom)
	if err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if err := l.requireRole(c, RoleMinter, sender); err != nil {
		return err
	}
	if err := l.checkSpendable(c); err != nil {
		return err
	}
	if err := l.mint(c, b.To, b.Amount, true); err != nil {
		return err
	}
	return l.emit("currency.mint", "minter", sender.String(), "to", b.To.String(), "denom", b.Denom, "amount", u64s(b.Amount))
}

func (l *ledger) burnMsg(sender chain.Address, b Burn) error {
	c, err := l.currency(b.Denom)
	if err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if err := l.burn(c, sender, b.Amount); err != nil {
		return err
	}
	return l.emit("currency.burn", "from", sender.String(), "denom", b.Denom, "amount", u64s(b.Amount))
}

func (l *ledger) roleChange(sender chain.Address, b RoleChange, grant bool) error {
	c, err := l.currency(b.Denom)
	if err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	r, err := ParseRole(b.Role)
	if err != nil {
		return err
	}
	if sender != c.Issuer {
		return fmt.Errorf("%w: %w: only the issuer of %s changes roles", chain.ErrUnauthorized, ErrWrongRole, c.Denom)
	}
	typ := "currency.revoke"
	if grant {
		typ = "currency.grant"
		err = l.kv.Set(keyRole(c.Denom, r, b.Account), marker)
	} else {
		err = l.kv.Delete(keyRole(c.Denom, r, b.Account))
	}
	if err != nil {
		return err
	}
	return l.emit(typ, "denom", c.Denom, "role", r.String(), "account", b.Account.String())
}

func (l *ledger) registerMerchant(sender chain.Address, b RegisterMerchant) error {
	c, err := l.currency(b.Denom)
	if err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if err := l.requireRole(c, RoleApprover, sender); err != nil {
		return err
	}
	if err := validCategories(b.Categories); err != nil {
		return fmt.Errorf("%w: %v", chain.ErrInvalidMsg, err)
	}
	mr, err := l.merchant(c.Denom, b.Merchant)
	if err != nil {
		return err
	}
	if mr == nil {
		mr = &Merchant{}
	}
	mr.Categories, mr.Suspended = b.Categories, false
	if err := l.setRecord(keyMerchant(c.Denom, b.Merchant), mr); err != nil {
		return err
	}
	return l.emit("currency.register_merchant", "denom", c.Denom, "merchant", b.Merchant.String(), "approver", sender.String())
}

func (l *ledger) suspendMerchant(sender chain.Address, b SuspendMerchant) error {
	c, err := l.currency(b.Denom)
	if err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if err := l.requireRole(c, RoleApprover, sender); err != nil {
		return err
	}
	mr, err := l.merchant(c.Denom, b.Merchant)
	if err != nil {
		return err
	}
	if mr == nil {
		return fmt.Errorf("%w: %w: %s for %s", chain.ErrInvalidMsg, ErrNotMerchant, b.Merchant, c.Denom)
	}
	mr.Suspended = true
	if err := l.setRecord(keyMerchant(c.Denom, b.Merchant), mr); err != nil {
		return err
	}
	return l.emit("currency.suspend_merchant", "denom", c.Denom, "merchant", b.Merchant.String(), "approver", sender.String())
}

func (l *ledger) redeem(sender chain.Address, b Redeem) error {
	c, err := l.currency(b.Denom)
	if err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if !c.Rules.Redeemable {
		return fmt.Errorf("%w: %w: %s", chain.ErrInvalidMsg, ErrNotRedeemable, c.Denom)
	}
	if len(b.Reference) > MaxReferenceLen {
		return fmt.Errorf("%w: reference of %d bytes, max %d", chain.ErrInvalidMsg, len(b.Reference), MaxReferenceLen)
	}
	mr, err := l.merchant(c.Denom, sender)
	if err != nil {
		return err
	}
	if mr == nil {
		return fmt.Errorf("%w: %w: %s for %s", chain.ErrUnauthorized, ErrNotMerchant, sender, c.Denom)
	}
	if mr.Redeemed+b.Amount < mr.Redeemed {
		return fmt.Errorf("%w: redeemed total of %s", ErrOverflow, sender)
	}
	if err := l.burn(c, sender, b.Amount); err != nil {
		return err
	}
	mr.Redeemed += b.Amount
	if err := l.setRecord(keyMerchant(c.Denom, sender), mr); err != nil {
		return err
	}
	seq, err := getU64(l.r, keySettleSeq(c.Denom))
	if err != nil {
		return err
	}
	st := Settlement{Merchant: sender, Amount: b.Amount, Reference: b.Reference, Time: l.now}
	if l.ctx != nil {
		st.Height = l.ctx.Block.Height
	}
	if err := l.setRecord(keySettlement(c.Denom, seq), &st); err != nil {
		return err
	}
	if err := l.setU64(keySettleSeq(c.Denom), seq+1); err != nil {
		return err
	}
	return l.emit("currency.redeem", "merchant", sender.String(), "denom", c.Denom, "amount", u64s(b.Amount),
		"reference", b.Reference, "settlement", u64s(seq))
}

func (l *ledger) confirmHours(sender chain.Address, b ConfirmHours) error {
	c, err := l.currency(b.Denom)
	if err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if err := l.requireRole(c, RoleCoordinator, sender); err != nil {
		return err
	}
	if b.Minutes >= 60 {
		return fmt.Errorf("%w: minutes %d, want 0..59", chain.ErrInvalidMsg, b.Minutes)
	}
	var amount uint64
	switch {
	case c.Rules.TimeBank:
		amount = uint64(b.Hours)*60 + uint64(b.Minutes) // cannot overflow: 2^32*60
	case c.Rules.HourlyRate > 0:
		hi, lo := bits.Mul64(c.Rules.HourlyRate, uint64(b.Hours))
		// Minutes earn rate*minutes/60, rounded down.
		mh, ml := bits.Mul64(c.Rules.HourlyRate, uint64(b.Minutes))
		part, _ := bits.Div64(mh, ml, 60) // mh < 60 since minutes < 60
		if hi != 0 || lo+part < lo {
			return fmt.Errorf("%w: %d hours at %d", ErrOverflow, b.Hours, c.Rules.HourlyRate)
		}
		amount = lo + part
	default:
		return fmt.Errorf("%w: %w: %s", chain.ErrInvalidMsg, ErrNoHourlyRate, c.Denom)
	}
	if amount == 0 {
		return fmt.Errorf("%w: zero hours", chain.ErrInvalidMsg)
	}
	if err := l.checkSpendable(c); err != nil {
		return err
	}
	if err := l.mint(c, b.Volunteer, amount, true); err != nil {
		return err
	}
	return l.emit("currency.confirm_hours", "coordinator", sender.String(), "volunteer", b.Volunteer.String(),
		"denom", c.Denom, "hours", strconv.FormatUint(uint64(b.Hours), 10),
		"minutes", strconv.FormatUint(uint64(b.Minutes), 10), "amount", u64s(amount))
}

// EndBlock expires lots and closes ended vouchers, at most
// Params.MaxExpiryPerBlock items per block; the rest wait for the next.
func (m *Module) EndBlock(ctx *chain.Context) error {
	l := m.ledger(ctx)
	budget := m.params.MaxExpiryPerBlock
	n, err := l.expireLots(budget)
	if err != nil {
		return fmt.Errorf("currency: expire lots: %w", err)
	}
	if _, err := l.closeVouchers(budget - n); err != nil {
		return fmt.Errorf("currency: close vouchers: %w", err)
	}
	return nil
}

// expireLots burns up to budget due lots, in (expiry, address, denom) order.
func (l *ledger) expireLots(budget int) (int, error) {
	if budget <= 0 {
		return 0, nil
	}
	type due struct {
		exp   int64
		addr  chain.Address
		denom string
	}
	var items []due
	err := l.r.Iterate([]byte(pExpiry), func(k, _ []byte) (bool, error) {
		if len(k) <= len(pExpiry)+8+chain.AddressLen {
			return true, fmt.Errorf("%w: expiry key %x", ErrCorrupt, k)
		}
		var d due
		d.exp = int64(uint64FromBE(k[len(pExpiry):]))
		if d.exp > l.now {
			return true, nil
		}
		copy(d.addr[:], k[len(pExpiry)+8:])
		d.denom = string(k[len(pExpiry)+8+chain.AddressLen:])
		items = append(items, d)
		return len(items) >= budget, nil
	})
	if err != nil {
		return 0, err
	}
	for _, d := range items {
		c, err := l.currency(d.denom)
		if err != nil {
			return 0, err
		}
		// touch burns every due lot of the account, including this one.
		if _, err := l.touch(c, d.addr); err != nil {
			return 0, err
		}
		// A queue entry whose lot was already spent or burned is dropped.
		if err := l.kv.Delete(keyExpiry(d.exp, d.addr, d.denom)); err != nil {
			return 0, err
		}
	}
	return len(items), nil
}

// closeVouchers returns ended vouchers' holder balances to their issuers,
// visiting at most budget holders per block. Merchants keep theirs to
// redeem; the issuer and module accounts keep theirs. Each visited holder
// leaves the holder index (nothing can be paid in an ended voucher, so the
// index is not needed again), which is what makes the work resumable.
func (l *ledger) closeVouchers(budget int) (int, error) {
	done := 0
	for done < budget {
		var key []byte
		err := l.r.Iterate([]byte(pVoucher), func(k, _ []byte) (bool, error) {
			if len(k) <= len(pVoucher)+8 {
				return true, fmt.Errorf("%w: voucher key %x", ErrCorrupt, k)
			}
			if chain.Time(uint64FromBE(k[len(pVoucher):])) <= l.at {
				key = append([]byte{}, k...)
			}
			return true, nil
		})
		if err != nil || key == nil {
			return done, err
		}
		denom := string(key[len(pVoucher)+8:])
		c, err := l.currency(denom)
		if err != nil {
			return done, err
		}
		want := budget - done
		var holders []chain.Address
		prefix := keyHolderPrefix(denom)
		err = l.r.Iterate(prefix, func(k, _ []byte) (bool, error) {
			if len(k) != len(prefix)+chain.AddressLen {
				return true, fmt.Errorf("%w: holder key %x", ErrCorrupt, k)
			}
			var a chain.Address
			copy(a[:], k[len(prefix):])
			holders = append(holders, a)
			return len(holders) >= want, nil
		})
		if err != nil {
			return done, err
		}
		for _, a := range holders {
			if err := l.returnVoucher(c, a); err != nil {
				return done, err
			}
		}
		done += len(holders)
		if len(holders) >= want {
			return done, nil // more may remain: next block
		}
		if err := l.kv.Delete(key); err != nil {
			return done, err
		}
		if err := l.emit("currency.voucher_closed", "denom", denom); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

func (l *ledger) returnVoucher(c *Currency, a chain.Address) error {
	exempt := a == c.Issuer || l.isModuleAccount(a)
	if !exempt {
		mr, err := l.merchant(c.Denom, a)
		if err != nil {
			return err
		}
		exempt = mr != nil
	}
	if !exempt {
		b, err := l.touch(c, a)
		if err != nil {
			return err
		}
		if b.amount > 0 {
			if err := l.move(c, a, c.Issuer, b.amount, false); err != nil {
				return err
			}
			if err := l.emit("currency.voucher_return", "denom", c.Denom, "holder", a.String(),
				"amount", u64s(b.amount)); err != nil {
				return err
			}
		}
	}
	return l.kv.Delete(keyHolder(c.Denom, a))
}

// ChargeFee moves amount of the native denom from payer to FeeCollector.
func (m *Module) ChargeFee(ctx *chain.Context, payer chain.Address, amount uint64) error {
	if amount == 0 {
		return nil
	}
	l := m.ledger(ctx)
	denom, err := l.nativeDenom()
	if err != nil {
		return err
	}
	c, err := l.currency(denom)
	if err != nil {
		return err
	}
	if err := l.move(c, payer, FeeCollector(), amount, false); err != nil {
		return fmt.Errorf("charge fee: %w", err)
	}
	return nil
}

// NativeDenom is the denom fees are paid in (from genesis).
func (m *Module) NativeDenom(ctx *chain.Context) (string, error) { return m.ledger(ctx).nativeDenom() }

// Balance is addr's current balance of denom (after due expiry and
// demurrage, which it applies).
func (m *Module) Balance(ctx *chain.Context, addr chain.Address, denom string) (uint64, error) {
	l := m.ledger(ctx)
	c, err := l.currency(denom)
	if err != nil {
		return 0, err
	}
	if !c.expires() && c.Rules.DemurrageBP == 0 {
		b, err := l.balance(addr, denom)
		return b.amount, err
	}
	b, err := l.touch(c, addr)
	return b.amount, err
}

// Transfer moves amount between accounts under the currency's rules
// (transfer policy, holding cap, voucher end). Module accounts (Params) and
// the issuer as sender are exempt from the transfer policy.
func (m *Module) Transfer(ctx *chain.Context, from, to chain.Address, denom string, amount uint64) error {
	l := m.ledger(ctx)
	c, err := l.currency(denom)
	if err != nil {
		return err
	}
	if err := l.checkTransfer(c, from, to); err != nil {
		return err
	}
	checkCap := !l.isModuleAccount(from) // releases from escrow may exceed a cap
	if err := l.move(c, from, to, amount, checkCap); err != nil {
		return err
	}
	return l.emit("currency.send", "from", from.String(), "to", to.String(), "denom", denom, "amount", u64s(amount))
}

// Mint creates amount of denom at to (module use, e.g. staking rewards);
// it respects the holding cap.
func (m *Module) Mint(ctx *chain.Context, to chain.Address, denom string, amount uint64) error {
	l := m.ledger(ctx)
	c, err := l.currency(denom)
	if err != nil {
		return err
	}
	if err := l.mint(c, to, amount, true); err != nil {
		return err
	}
	return l.emit("currency.mint", "to", to.String(), "denom", denom, "amount", u64s(amount))
}

// Burn destroys amount of denom held by from (module use, e.g. slashing).
func (m *Module) Burn(ctx *chain.Context, from chain.Address, denom string, amount uint64) error {
	l := m.ledger(ctx)
	c, err := l.currency(denom)
	if err != nil {
		return err
	}
	if err := l.burn(c, from, amount); err != nil {
		return err
	}
	return l.emit("currency.burn", "from", from.String(), "denom", denom, "amount", u64s(amount))
}

// Supply is the total supply of denom.
func (m *Module) Supply(ctx *chain.Context, denom string) (uint64, error) {
	return getU64(ctx.Store(m.key), keySupply(denom))
}

func uint64FromBE(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// FeeFunds is payer's stored balance of the native (fee) denom: the
// chain.FeeFunds capability. Expiry or demurrage due but not yet applied
// only lower what the account can pay, so nothing payable is refused.
func (m *Module) FeeFunds(r chain.KVReader, payer chain.Address) (uint64, error) {
	l := &ledger{m: m, r: r}
	denom, err := l.nativeDenom()
	if err != nil {
		return 0, fmt.Errorf("fee denom: %w", err)
	}
	b, err := l.balance(payer, denom)
	if err != nil {
		return 0, fmt.Errorf("balance of %s in %s: %w", payer, denom, err)
	}
	return uint64(b.amount), nil
}
