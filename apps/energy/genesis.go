package energy

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/dure-network/dure/chain"
)

// Genesis is the module's section of genesis.json: markets, extra
// operators, and meters registered (and, when attested, attested by the
// market's operator) before the first block.
type Genesis struct {
	Markets   []Market          `json:"markets,omitempty"`
	Operators []GenesisOperator `json:"operators,omitempty"`
	Meters    []GenesisMeter    `json:"meters,omitempty"`
}

// GenesisOperator grants the operator role in a market.
type GenesisOperator struct {
	Market  string        `json:"market"`
	Address chain.Address `json:"address"`
}

// GenesisMeter registers a meter.
type GenesisMeter struct {
	ID        string        `json:"id"`
	Market    string        `json:"market"`
	Owner     chain.Address `json:"owner"`
	DeviceKey chain.PubKey  `json:"device_key"`
	Kind      string        `json:"kind"`
	Tariff    uint64        `json:"tariff,omitempty"`
	Attested  bool          `json:"attested,omitempty"`
}

// InitGenesis loads the genesis section (nil: nothing). Unknown fields
// are refused and every entry is checked as its message would be. A
// section in snapshot form (an export, chain.Snapshot) is written as it is.
func (m *Module) InitGenesis(ctx *chain.Context, raw json.RawMessage) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if snap, ok, err := chain.ParseSnapshot(raw); ok {
		if err != nil {
			return fmt.Errorf("energy genesis: %w", err)
		}
		return snap.WriteTo(ctx.Store(m.key))
	}
	var g Genesis
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return fmt.Errorf("energy genesis: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("energy genesis: trailing data")
	}
	k := m.keeper(ctx)
	for i, mk := range g.Markets {
		if mk.Creator.IsZero() {
			return fmt.Errorf("energy genesis: markets[%d]: %w: %w: no creator", i, chain.ErrInvalidMsg, ErrBadMarket)
		}
		if err := k.createMarket(mk.Creator, mk); err != nil {
			return fmt.Errorf("energy genesis: markets[%d]: %w", i, err)
		}
	}
	for i, op := range g.Operators {
		mk, err := k.market(op.Market)
		if err != nil {
			return fmt.Errorf("energy genesis: operators[%d]: %w", i, err)
		}
		if err := k.operatorChange(mk.Creator, OperatorChange{Market: op.Market, Account: op.Address}, true); err != nil {
			return fmt.Errorf("energy genesis: operators[%d]: %w", i, err)
		}
	}
	for i, gm := range g.Meters {
		if err := k.registerMeter(gm.Owner, RegisterMeter{ID: gm.ID, Market: gm.Market, DeviceKey: gm.DeviceKey, Kind: gm.Kind, Tariff: gm.Tariff}); err != nil {
			return fmt.Errorf("energy genesis: meters[%d]: %w", i, err)
		}
		if gm.Attested {
			mk, err := k.market(gm.Market)
			if err != nil {
				return err
			}
			if err := k.attestMeter(mk.Operator, MeterAction{Meter: gm.ID}); err != nil {
				return fmt.Errorf("energy genesis: meters[%d]: %w", i, err)
			}
		}
	}
	return nil
}

// ExportGenesis writes energy's state in snapshot form
// (chain.GenesisExporter): open books, escrowed bids, pending settlements,
// readings and device counters carry over exactly.
func (m *Module) ExportGenesis(r chain.KVReader) (json.RawMessage, error) {
	return chain.ExportSnapshot(r)
}
