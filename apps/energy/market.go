package energy

import (
	"fmt"

	"github.com/dure-network/dure/chain"
)

func (k *keeper) createMarket(sender chain.Address, mk Market) error {
	mk.Creator = sender
	if mk.IntervalSecs == 0 {
		mk.IntervalSecs = DefaultIntervalSecs
	}
	if err := mk.validate(); err != nil {
		return err
	}
	if b, err := k.kv.Get(keyMarket(mk.ID)); err != nil {
		return err
	} else if b != nil {
		return fmt.Errorf("%w: %w: %q", chain.ErrInvalidMsg, ErrMarketExists, mk.ID)
	}
	// The denom must exist: the bank refuses a balance of an unknown one.
	if _, err := k.m.bank.Balance(k.ctx, EscrowAccount(), mk.Denom); err != nil {
		return fmt.Errorf("%w: %w: denom %q: %v", chain.ErrInvalidMsg, ErrBadMarket, mk.Denom, err)
	}
	if err := k.set(keyMarket(mk.ID), &mk); err != nil {
		return err
	}
	if err := k.kv.Set(keyOperator(mk.ID, mk.Operator), marker()); err != nil {
		return err
	}
	return k.emit("energy.market", "market", mk.ID, "creator", sender.String(), "operator", mk.Operator.String(),
		"denom", mk.Denom, "interval_secs", i64s(mk.IntervalSecs))
}

func (k *keeper) operatorChange(sender chain.Address, b OperatorChange, grant bool) error {
	mk, err := k.market(b.Market)
	if err != nil {
		return err
	}
	if sender != mk.Creator {
		return fmt.Errorf("%w: %w: %q", chain.ErrUnauthorized, ErrNotCreator, mk.ID)
	}
	if b.Account.IsZero() {
		return fmt.Errorf("%w: %w: no account", chain.ErrInvalidMsg, ErrBadMarket)
	}
	typ := "energy.operator_granted"
	if grant {
		err = k.kv.Set(keyOperator(mk.ID, b.Account), marker())
	} else {
		typ = "energy.operator_revoked"
		err = k.kv.Delete(keyOperator(mk.ID, b.Account))
	}
	if err != nil {
		return err
	}
	return k.emit(typ, "market", mk.ID, "account", b.Account.String())
}

func (k *keeper) registerMeter(sender chain.Address, b RegisterMeter) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %w: "+format, append([]any{chain.ErrInvalidMsg, ErrBadMeter}, a...)...)
	}
	switch {
	case !validID(b.ID):
		return bad("id %q: 1 to %d letters, digits, '-', '_' or '.'", b.ID, MaxIDLen)
	case !validKind(b.Kind):
		return bad("kind %q: want one of %v", b.Kind, Kinds())
	case b.DeviceKey == (chain.PubKey{}):
		return bad("no device key")
	case b.Tariff != 0 && b.Kind != KindEVCharger:
		return bad("only an ev-charger has a tariff")
	case b.Tariff > MaxPrice:
		return bad("tariff above %d", uint64(MaxPrice))
	}
	if _, err := k.market(b.Market); err != nil {
		return err
	}
	if x, err := k.kv.Get(keyMeter(b.ID)); err != nil {
		return err
	} else if x != nil {
		return fmt.Errorf("%w: %w: %q", chain.ErrInvalidMsg, ErrMeterExists, b.ID)
	}
	mt := Meter{ID: b.ID, Market: b.Market, Owner: sender, DeviceKey: b.DeviceKey, Kind: b.Kind, Tariff: b.Tariff}
	if err := k.set(keyMeter(mt.ID), &mt); err != nil {
		return err
	}
	return k.emit("energy.meter_registered", "meter", mt.ID, "market", mt.Market, "owner", sender.String(), "kind", mt.Kind)
}

func (k *keeper) operatorMeter(sender chain.Address, id string) (*Meter, error) {
	mt, err := k.meter(id)
	if err != nil {
		return nil, err
	}
	if err := k.requireOperator(mt.Market, sender); err != nil {
		return nil, err
	}
	return mt, nil
}

func (k *keeper) attestMeter(sender chain.Address, b MeterAction) error {
	mt, err := k.operatorMeter(sender, b.Meter)
	if err != nil {
		return err
	}
	mt.Attested, mt.AttestedBy = true, sender
	if err := k.set(keyMeter(mt.ID), mt); err != nil {
		return err
	}
	return k.emit("energy.meter_attested", "meter", mt.ID, "operator", sender.String())
}

func (k *keeper) suspendMeter(sender chain.Address, b MeterAction) error {
	mt, err := k.operatorMeter(sender, b.Meter)
	if err != nil {
		return err
	}
	mt.Suspended = !b.Lift
	if err := k.set(keyMeter(mt.ID), mt); err != nil {
		return err
	}
	typ := "energy.meter_suspended"
	if b.Lift {
		typ = "energy.meter_reinstated"
	}
	return k.emit(typ, "meter", mt.ID, "operator", sender.String())
}
