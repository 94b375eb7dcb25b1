package royalty

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dure-network/dure/chain"
)

// Genesis is the module's section of genesis.json. Without one (or with
// no operator) the registry is open: see Registry.
type Genesis struct {
	Registry  *Registry         `json:"registry,omitempty"`
	Platforms []GenesisPlatform `json:"platforms,omitempty"`
	// Records carries every other state value, as exported from a running
	// chain: each key is checked against the layout and each value decoded
	// as its record type, so an export restores exactly the same state.
	Records []Record `json:"records,omitempty"`
}

// GenesisPlatform grants the platform role at genesis.
type GenesisPlatform struct {
	Address chain.Address `json:"address"`
	Name    string        `json:"name"`
}

// Record is one exported state value (key and value as bytes, base64 in
// JSON).
type Record struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
}

// checkRecord checks an exported key against the layout and decodes its
// value as that key's record type.
func (m *Module) checkRecord(k, v []byte) error {
	ks := string(k)
	dec := func(x any) error { return m.codec.UnmarshalCanonical(v, x) }
	u64 := func() error {
		if len(v) != 8 {
			return fmt.Errorf("want 8 bytes, have %d", len(v))
		}
		return nil
	}
	switch {
	case strings.HasPrefix(ks, pWork):
		return dec(&Work{})
	case strings.HasPrefix(ks, pSplit):
		var sp Split
		if err := dec(&sp); err != nil {
			return err
		}
		var sum uint64
		for _, n := range sp.Nested {
			if n.Units == 0 || n.Units > TotalUnits {
				return fmt.Errorf("%w: nested units %d", ErrBadSplit, n.Units)
			}
			sum += n.Units
		}
		if sum > TotalUnits || len(sp.Nested) > MaxNested || len(sp.Denoms) > MaxSplitDenoms {
			return fmt.Errorf("%w: split %q out of bounds", ErrBadSplit, sp.ID)
		}
		return nil
	case strings.HasPrefix(ks, pHolding):
		// Bounds every accrual relies on (128-bit quotients fit 64 bits).
		var h Holding
		if err := dec(&h); err != nil {
			return err
		}
		if h.Units > TotalUnits || h.Locked > h.Units {
			return fmt.Errorf("%w: holding of %d units, %d locked", ErrBadSplit, h.Units, h.Locked)
		}
		for _, a := range h.Acc {
			if a.Frac >= TotalUnits {
				return fmt.Errorf("%w: carried %d millionths", ErrBadSplit, a.Frac)
			}
		}
		return nil
	case strings.HasPrefix(ks, pPool):
		var p Pool
		if err := dec(&p); err != nil {
			return err
		}
		for _, f := range p.NestedFrac {
			if f >= TotalUnits {
				return fmt.Errorf("%w: carried %d millionths", ErrBadSplit, f)
			}
		}
		if len(p.NestedFrac) != len(p.NestedPaid) {
			return fmt.Errorf("%w: pool lists differ", ErrBadSplit)
		}
		return nil
	case strings.HasPrefix(ks, pReport):
		return dec(&Report{})
	case strings.HasPrefix(ks, pPlatform):
		return dec(&Platform{})
	case strings.HasPrefix(ks, pOrder):
		return dec(&Order{})
	case strings.HasPrefix(ks, pAuction):
		return dec(&Auction{})
	case strings.HasPrefix(ks, pBid):
		return dec(&Bid{})
	case strings.HasPrefix(ks, pPeriod):
		if len(v) != 16 {
			return fmt.Errorf("want 16 bytes, have %d", len(v))
		}
		return nil
	case strings.HasPrefix(ks, pCredit), ks == pOrderSeq, ks == pAuctSeq:
		return u64()
	case strings.HasPrefix(ks, pDueTerms), strings.HasPrefix(ks, pByCreator):
		if !bytes.Equal(v, marker) {
			return fmt.Errorf("want the marker byte")
		}
		return nil
	}
	return fmt.Errorf("unknown key prefix")
}

// InitGenesis loads the genesis section (nil: an open registry with
// defaults). Unknown fields are refused.
func (m *Module) InitGenesis(ctx *chain.Context, raw json.RawMessage) error {
	var g Genesis
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			return fmt.Errorf("royalty genesis: %w", err)
		}
	}
	s := m.open(ctx)
	reg := DefaultRegistry()
	if g.Registry != nil {
		reg = *g.Registry
	}
	if err := reg.validate(); err != nil {
		return fmt.Errorf("royalty genesis: registry: %w", err)
	}
	if err := s.put([]byte(pRegistry), &reg); err != nil {
		return err
	}
	for i, p := range g.Platforms {
		if p.Address.IsZero() || len(p.Name) == 0 || len(p.Name) > MaxIDLen {
			return fmt.Errorf("royalty genesis: platforms[%d]: want an address and a name of 1 to %d bytes", i, MaxIDLen)
		}
		if err := s.put(keyPlatform(p.Address), &Platform{Name: p.Name, GrantedBy: reg.Operator}); err != nil {
			return err
		}
	}
	for i, r := range g.Records {
		if len(r.Value) == 0 {
			return fmt.Errorf("royalty genesis: records[%d]: empty value", i)
		}
		if err := m.checkRecord(r.Key, r.Value); err != nil {
			return fmt.Errorf("royalty genesis: records[%d] %q: %w", i, r.Key, err)
		}
		if v, err := s.r.Get(r.Key); err != nil {
			return err
		} else if v != nil {
			return fmt.Errorf("royalty genesis: records[%d] %q: %w", i, r.Key, ErrExists)
		}
		if err := s.kv.Set(r.Key, r.Value); err != nil {
			return err
		}
	}
	return nil
}

// ExportGenesis writes the registry, the platforms and every other value
// as records (chain.GenesisExporter).
func (m *Module) ExportGenesis(r chain.KVReader) (json.RawMessage, error) {
	s := &st{m: m, r: r}
	reg, err := s.registry()
	if err != nil {
		return nil, err
	}
	g := Genesis{Registry: reg}
	err = r.Iterate(nil, func(k, v []byte) (bool, error) {
		ks := string(k)
		switch {
		case ks == pRegistry:
		case strings.HasPrefix(ks, pPlatform):
			var p Platform
			if err := m.codec.Unmarshal(v, &p); err != nil || len(k) != len(pPlatform)+chain.AddressLen {
				return true, fmt.Errorf("%w: platform %x", ErrCorrupt, k)
			}
			var a chain.Address
			copy(a[:], k[len(pPlatform):])
			if p.GrantedBy != reg.Operator || p.Height != 0 {
				// Not expressible as a genesis platform: keep it exactly.
				g.Records = append(g.Records, Record{Key: append([]byte{}, k...), Value: append([]byte{}, v...)})
				return false, nil
			}
			g.Platforms = append(g.Platforms, GenesisPlatform{Address: a, Name: p.Name})
		default:
			g.Records = append(g.Records, Record{Key: append([]byte{}, k...), Value: append([]byte{}, v...)})
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(g)
}
