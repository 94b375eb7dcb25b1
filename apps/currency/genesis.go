package currency

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/dure-network/dure/chain"
)

// Genesis is the module's section of genesis.json.
type Genesis struct {
	// NativeDenom is created with free transfer and no issuer; fees are
	// paid in it.
	NativeDenom string            `json:"native_denom"`
	Currencies  []Currency        `json:"currencies,omitempty"`
	Balances    []GenesisBalance  `json:"balances,omitempty"`
	Roles       []GenesisRole     `json:"roles,omitempty"`
	Merchants   []GenesisMerchant `json:"merchants,omitempty"`
}

// GenesisBalance is minted at genesis (lots of expiring currencies are
// minted at the genesis block time). Amount is a number or a string.
type GenesisBalance struct {
	Address chain.Address `json:"address"`
	Denom   string        `json:"denom"`
	Amount  Amount        `json:"amount"`
}

// GenesisRole grants a role in a currency.
type GenesisRole struct {
	Denom   string        `json:"denom"`
	Role    string        `json:"role"`
	Address chain.Address `json:"address"`
}

// GenesisMerchant registers an approved merchant.
type GenesisMerchant struct {
	Denom      string        `json:"denom"`
	Address    chain.Address `json:"address"`
	Categories []string      `json:"categories"`
}

// InitGenesis loads the genesis section. Unknown fields are rejected, and
// every rule (denoms, caps, categories) is checked as for transactions.
//
// A section in snapshot form (an export, chain.Snapshot) is written as it
// is.
func (m *Module) InitGenesis(ctx *chain.Context, raw json.RawMessage) error {
	if snap, ok, err := chain.ParseSnapshot(raw); ok {
		if err != nil {
			return fmt.Errorf("currency genesis: %w", err)
		}
		return snap.WriteTo(ctx.Store(m.key))
	}
	var g Genesis
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return fmt.Errorf("currency genesis: %w", err)
	}
	l := m.ledger(ctx)
	if err := validDenom(g.NativeDenom); err != nil {
		return fmt.Errorf("currency genesis: native_denom: %w", err)
	}
	if err := l.kv.Set([]byte(pNative), []byte(g.NativeDenom)); err != nil {
		return err
	}
	native := Currency{Denom: g.NativeDenom, Rules: Rules{Transfer: TransferFree}}
	if err := l.create(native); err != nil {
		return fmt.Errorf("currency genesis: native: %w", err)
	}
	for i, c := range g.Currencies {
		if err := l.create(c); err != nil {
			return fmt.Errorf("currency genesis: currencies[%d] %q: %w", i, c.Denom, err)
		}
	}
	for i, r := range g.Roles {
		c, err := l.currency(r.Denom)
		if err != nil {
			return fmt.Errorf("currency genesis: roles[%d]: %w", i, err)
		}
		if err := l.roleChange(c.Issuer, RoleChange{Denom: r.Denom, Role: r.Role, Account: r.Address}, true); err != nil {
			return fmt.Errorf("currency genesis: roles[%d]: %w", i, err)
		}
	}
	for i, mr := range g.Merchants {
		c, err := l.currency(mr.Denom)
		if err != nil {
			return fmt.Errorf("currency genesis: merchants[%d]: %w", i, err)
		}
		if err := l.registerMerchant(c.Issuer, RegisterMerchant{Denom: mr.Denom, Merchant: mr.Address, Categories: mr.Categories}); err != nil {
			return fmt.Errorf("currency genesis: merchants[%d]: %w", i, err)
		}
	}
	for i, b := range g.Balances {
		c, err := l.currency(b.Denom)
		if err != nil {
			return fmt.Errorf("currency genesis: balances[%d]: %w", i, err)
		}
		if err := l.mint(c, b.Address, uint64(b.Amount), true); err != nil {
			return fmt.Errorf("currency genesis: balances[%d] %s: %w", i, b.Address, err)
		}
	}
	return nil
}

// ExportGenesis writes currency's state in snapshot form
// (chain.GenesisExporter): lots with their expiry, demurrage clocks,
// merchants' redeemed totals and settlements carry over exactly.
func (m *Module) ExportGenesis(r chain.KVReader) (json.RawMessage, error) {
	return chain.ExportSnapshot(r)
}
