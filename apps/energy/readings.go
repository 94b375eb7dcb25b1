package energy

import (
	"fmt"

	"github.com/dure-network/dure/chain"
)

// submitReadings verifies every signature of the batch at once, then
// applies the readings in order: a meter's readings must come in counter
// order, each exactly one after the last.
func (k *keeper) submitReadings(rs []Reading) error {
	if len(rs) == 0 || len(rs) > MaxReadingsPerMsg {
		return fmt.Errorf("%w: %w: %d readings (1 to %d per message)", chain.ErrInvalidMsg, ErrBadReading, len(rs), MaxReadingsPerMsg)
	}
	meters := map[string]*Meter{} // looked up, never iterated
	items := make([]chain.SigItem, len(rs))
	for i := range rs {
		r := &rs[i]
		mt := meters[r.Meter]
		if mt == nil {
			var err error
			if mt, err = k.activeMeter(r.Meter); err != nil {
				return fmt.Errorf("reading %d: %w", i, err)
			}
			meters[r.Meter] = mt
		}
		msg, err := r.SignBytes(k.m.codec)
		if err != nil {
			return fmt.Errorf("%w: reading %d: %v", chain.ErrInvalidMsg, i, err)
		}
		items[i] = chain.SigItem{PubKey: mt.DeviceKey, Msg: msg, Sig: r.Sig}
	}
	if err := k.ctx.Gas.Consume(uint64(len(rs))*GasPerReadingSig, "device signatures"); err != nil {
		return err
	}
	if ok, valid := chain.VerifyBatch(items); !ok {
		for i, v := range valid {
			if !v {
				return fmt.Errorf("%w: %w: reading %d of meter %q", chain.ErrUnauthorized, ErrBadSignature, i, rs[i].Meter)
			}
		}
		return fmt.Errorf("%w: %w", chain.ErrUnauthorized, ErrBadSignature)
	}
	for i := range rs {
		if err := k.applyReading(meters[rs[i].Meter], &rs[i]); err != nil {
			return fmt.Errorf("reading %d: %w", i, err)
		}
	}
	for i := range rs { // each meter once, in message order
		if mt := meters[rs[i].Meter]; mt != nil {
			if err := k.set(keyMeter(mt.ID), mt); err != nil {
				return err
			}
			meters[rs[i].Meter] = nil
		}
	}
	return nil
}

// GasPerReadingSig is charged per device signature verified.
const GasPerReadingSig = 500

func (k *keeper) applyReading(mt *Meter, r *Reading) error {
	mk, err := k.market(mt.Market)
	if err != nil {
		return err
	}
	inv := func(e error, format string, a ...any) error {
		return fmt.Errorf("%w: %w: meter %q: "+format, append([]any{chain.ErrInvalidMsg, e, mt.ID}, a...)...)
	}
	switch {
	case r.Flag != FlagMetered && r.Flag != FlagEstimated:
		return inv(ErrBadReading, "flag %d", r.Flag)
	case r.IntervalStart < 0 || r.IntervalStart%mk.IntervalSecs != 0:
		return inv(ErrMisaligned, "interval %d, grid %ds", r.IntervalStart, mk.IntervalSecs)
	case r.IntervalStart > k.now-mk.IntervalSecs:
		return inv(ErrFutureInterval, "interval %d ends after block time %d", r.IntervalStart, k.now)
	case mt.HasReading && r.IntervalStart == mt.LastInterval:
		return inv(ErrDuplicate, "interval %d", r.IntervalStart)
	case mt.HasReading && r.Counter <= mt.Counter:
		return inv(ErrDuplicate, "counter %d, last %d", r.Counter, mt.Counter)
	case mt.HasReading && r.Counter != mt.Counter+1:
		return inv(ErrCounterGap, "counter %d after %d", r.Counter, mt.Counter)
	case mt.HasReading && r.IntervalStart < mt.LastInterval:
		return inv(ErrStale, "interval %d before %d", r.IntervalStart, mt.LastInterval)
	case r.EndImportWh < r.StartImportWh || r.EndExportWh < r.StartExportWh:
		return inv(ErrRegisterBack, "end registers below start")
	case r.StartImportWh < mt.ImportWh || r.StartExportWh < mt.ExportWh:
		return inv(ErrRegisterBack, "import %d < %d or export %d < %d", r.StartImportWh, mt.ImportWh, r.StartExportWh, mt.ExportWh)
	}
	sr := StoredReading{Counter: r.Counter, ImportWh: r.EndImportWh - r.StartImportWh,
		ExportWh: r.EndExportWh - r.StartExportWh, Flag: r.Flag}
	if err := k.set(keyReading(mt.ID, r.IntervalStart), &sr); err != nil {
		return err
	}
	mt.PrevImportWh, mt.PrevExportWh = mt.ImportWh, mt.ExportWh
	mt.Counter, mt.LastInterval, mt.HasReading = r.Counter, r.IntervalStart, true
	mt.ImportWh, mt.ExportWh = r.EndImportWh, r.EndExportWh
	return k.emit("energy.reading", "meter", mt.ID, "interval", i64s(r.IntervalStart), "counter", u64s(r.Counter),
		"import_wh", u64s(sr.ImportWh), "export_wh", u64s(sr.ExportWh), "flag", flagName(r.Flag))
}

func flagName(f uint8) string {
	if f == FlagEstimated {
		return "estimated"
	}
	return "metered"
}

// MaxReasonLen bounds a correction's reason.
const MaxReasonLen = 256

// correctReading lets an operator replace the energy of a meter's latest
// reading until the interval settles. The new energy cannot exceed what
// the registers moved since the reading before it.
func (k *keeper) correctReading(sender chain.Address, b CorrectReading) error {
	if len(b.Reason) > MaxReasonLen {
		return fmt.Errorf("%w: %w: reason longer than %d bytes", chain.ErrInvalidMsg, ErrBadReading, MaxReasonLen)
	}
	mt, err := k.operatorMeter(sender, b.Meter)
	if err != nil {
		return err
	}
	mk, err := k.market(mt.Market)
	if err != nil {
		return err
	}
	var sr StoredReading
	ok, err := k.get(keyReading(mt.ID, b.IntervalStart), &sr)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %w: meter %q has no reading for %d", chain.ErrInvalidMsg, ErrBadReading, mt.ID, b.IntervalStart)
	}
	if sr.Counter != mt.Counter || b.IntervalStart != mt.LastInterval {
		return fmt.Errorf("%w: %w: only the meter's latest reading can be corrected", chain.ErrInvalidMsg, ErrWindowClosed)
	}
	if k.now >= b.IntervalStart+mk.IntervalSecs+mk.ReadingDeadlineSecs {
		return fmt.Errorf("%w: %w: interval %d settled at its reading deadline", chain.ErrInvalidMsg, ErrWindowClosed, b.IntervalStart)
	}
	if b.ImportWh > mt.ImportWh-mt.PrevImportWh || b.ExportWh > mt.ExportWh-mt.PrevExportWh {
		return fmt.Errorf("%w: %w: correction beyond what the registers moved (import %d, export %d)", chain.ErrInvalidMsg,
			ErrBadReading, mt.ImportWh-mt.PrevImportWh, mt.ExportWh-mt.PrevExportWh)
	}
	old := sr
	sr.ImportWh, sr.ExportWh, sr.Corrected = b.ImportWh, b.ExportWh, true
	if err := k.set(keyReading(mt.ID, b.IntervalStart), &sr); err != nil {
		return err
	}
	return k.emit("energy.reading_corrected", "meter", mt.ID, "interval", i64s(b.IntervalStart), "operator", sender.String(),
		"old_import_wh", u64s(old.ImportWh), "old_export_wh", u64s(old.ExportWh),
		"import_wh", u64s(sr.ImportWh), "export_wh", u64s(sr.ExportWh), "reason", b.Reason)
}
