package energy

import (
	"fmt"

	"github.com/dure-network/dure/chain"
)

// DefaultSessionSecs is a session's deadline when start-session sets none.
const DefaultSessionSecs = 86400

// startSession opens a charging session: a standing bid at the charger's
// tariff, escrowing the cost of MaxWh (energy + grid fee).
func (k *keeper) startSession(sender chain.Address, b StartSession) error {
	mt, err := k.activeMeter(b.Charger)
	if err != nil {
		return err
	}
	if mt.Kind != KindEVCharger {
		return fmt.Errorf("%w: %w: %q is a %s meter, not an ev-charger", chain.ErrInvalidMsg, ErrWrongKind, mt.ID, mt.Kind)
	}
	mk, err := k.market(mt.Market)
	if err != nil {
		return err
	}
	if b.MaxWh == 0 || b.MaxWh > MaxWhPerOrder || b.MaxPrice > MaxPrice {
		return fmt.Errorf("%w: %w: %d Wh at %d", chain.ErrInvalidMsg, ErrBadOrder, b.MaxWh, b.MaxPrice)
	}
	if p, ok := netBid(mk, b.MaxPrice); !ok || p < mt.Tariff {
		return fmt.Errorf("%w: %w: tariff %d, fee %d/kWh + %d bps, max %d", chain.ErrInvalidMsg, ErrTariffTooHigh,
			mt.Tariff, mk.FeePerKWh, mk.FeeBps, b.MaxPrice)
	}
	deadline := b.Deadline
	if deadline == 0 {
		deadline = k.now + DefaultSessionSecs
	}
	if deadline <= k.now || deadline > k.now+MaxHorizonSeconds {
		return fmt.Errorf("%w: %w: deadline %d, block time %d", chain.ErrInvalidMsg, ErrBadOrder, deadline, k.now)
	}
	_, _, escrow, err := cost(mk, b.MaxWh, mt.Tariff)
	if err != nil {
		return err
	}
	id, err := k.nextID()
	if err != nil {
		return err
	}
	s := Session{ID: id, Charger: mt.ID, Driver: sender, MaxWh: b.MaxWh, MaxPrice: b.MaxPrice, Tariff: mt.Tariff,
		Escrow: escrow, Started: k.now, Deadline: deadline}
	if err := k.pay(mk, sender, EscrowAccount(), escrow, "escrow", "session", u64s(id)); err != nil {
		return err
	}
	if err := k.set(keySession(id), &s); err != nil {
		return err
	}
	if err := k.kv.Set(keySessionQ(deadline+mk.ReadingDeadlineSecs, id), marker()); err != nil {
		return err
	}
	return k.emit("energy.session_started", "session", u64s(id), "charger", mt.ID, "driver", sender.String(),
		"max_wh", u64s(b.MaxWh), "tariff", u64s(mt.Tariff), "escrow", u64s(escrow))
}

func (k *keeper) session(id uint64) (*Session, error) {
	var s Session
	ok, err := k.get(keySession(id), &s)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %w: %d", chain.ErrInvalidMsg, ErrUnknownSession, id)
	}
	return &s, nil
}

// endSession settles a session from the charger's signed reading: the
// driver pays min(measured, MaxWh) at the tariff plus the grid fee, and
// the rest of the escrow returns.
func (k *keeper) endSession(r SessionReading) error {
	s, err := k.session(r.Session)
	if err != nil {
		return err
	}
	if s.Settled {
		return fmt.Errorf("%w: %w: %d", chain.ErrInvalidMsg, ErrSessionClosed, s.ID)
	}
	if r.Charger != s.Charger {
		return fmt.Errorf("%w: %w: session %d is at %q", chain.ErrInvalidMsg, ErrBadReading, s.ID, s.Charger)
	}
	mt, err := k.activeMeter(r.Charger)
	if err != nil {
		return err
	}
	msg, err := r.SignBytes(k.m.codec)
	if err != nil {
		return fmt.Errorf("%w: %v", chain.ErrInvalidMsg, err)
	}
	if err := k.ctx.Gas.Consume(GasPerReadingSig, "device signature"); err != nil {
		return err
	}
	if !chain.VerifySig(mt.DeviceKey, msg, r.Sig) {
		return fmt.Errorf("%w: %w: session %d", chain.ErrUnauthorized, ErrBadSignature, s.ID)
	}
	switch {
	case mt.HasReading && r.Counter <= mt.Counter:
		return fmt.Errorf("%w: %w: counter %d, last %d", chain.ErrInvalidMsg, ErrDuplicate, r.Counter, mt.Counter)
	case mt.HasReading && r.Counter != mt.Counter+1:
		return fmt.Errorf("%w: %w: counter %d after %d", chain.ErrInvalidMsg, ErrCounterGap, r.Counter, mt.Counter)
	case r.StopWh < r.StartWh || r.StartWh < mt.ImportWh:
		return fmt.Errorf("%w: %w: session registers %d..%d, meter at %d", chain.ErrInvalidMsg, ErrRegisterBack,
			r.StartWh, r.StopWh, mt.ImportWh)
	}
	mk, err := k.market(mt.Market)
	if err != nil {
		return err
	}
	mt.PrevImportWh, mt.PrevExportWh = mt.ImportWh, mt.ExportWh
	mt.Counter, mt.ImportWh, mt.HasReading = r.Counter, r.StopWh, true
	if err := k.set(keyMeter(mt.ID), mt); err != nil {
		return err
	}
	d := min(r.StopWh-r.StartWh, s.MaxWh)
	v, fee, total, err := cost(mk, d, s.Tariff)
	if err != nil {
		return err
	}
	ref := []string{"session", u64s(s.ID)}
	if err := k.pay(mk, EscrowAccount(), mt.Owner, v, "charging", ref...); err != nil {
		return err
	}
	if err := k.pay(mk, EscrowAccount(), mk.Operator, fee, "grid-fee", ref...); err != nil {
		return err
	}
	if err := k.pay(mk, EscrowAccount(), s.Driver, s.Escrow-total, "refund", ref...); err != nil {
		return err
	}
	s.Settled, s.DeliveredWh, s.Paid, s.Fee, s.Refunded = true, d, v, fee, s.Escrow-total
	if err := k.set(keySession(s.ID), s); err != nil {
		return err
	}
	if err := k.kv.Delete(keySessionQ(s.Deadline+mk.ReadingDeadlineSecs, s.ID)); err != nil {
		return err
	}
	return k.emit("energy.session_settled", "session", u64s(s.ID), "charger", mt.ID, "delivered_wh", u64s(d),
		"paid", u64s(v), "fee", u64s(fee), "refund", u64s(s.Refunded))
}

// expireSessions refunds sessions with no reading by their deadline plus
// the market's reading deadline: no reading, no payment.
func (k *keeper) expireSessions(n int) error {
	var due [][]byte
	err := k.kv.Iterate([]byte(pSessionQ), func(key, _ []byte) (bool, error) {
		if len(key) != len(pSessionQ)+16 {
			return true, fmt.Errorf("%w: session queue key %x", ErrCorrupt, key)
		}
		if int64(be64u(key[2:10])) > k.now {
			return true, nil
		}
		due = append(due, append([]byte(nil), key...))
		return len(due) >= n, nil
	})
	if err != nil {
		return err
	}
	for _, key := range due {
		if err := k.kv.Delete(key); err != nil {
			return err
		}
		s, err := k.session(be64u(key[10:]))
		if err != nil {
			return err
		}
		if s.Settled {
			continue
		}
		mt, err := k.meter(s.Charger)
		if err != nil {
			return err
		}
		mk, err := k.market(mt.Market)
		if err != nil {
			return err
		}
		if s.Refunded, err = k.payOrKeep(mk, EscrowAccount(), s.Driver, s.Escrow, "refund", "session", u64s(s.ID)); err != nil {
			return err
		}
		s.Settled = true
		if err := k.set(keySession(s.ID), s); err != nil {
			return err
		}
		if err := k.emit("energy.session_expired", "session", u64s(s.ID), "refund", u64s(s.Refunded)); err != nil {
			return err
		}
	}
	return nil
}

func be64u(b []byte) uint64 {
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}
