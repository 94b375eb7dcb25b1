package genesis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"time"

	"github.com/dure-network/dure/chain"
)

// ErrInvalid is returned for a genesis that cannot start a chain.
var ErrInvalid = errors.New("invalid genesis")

// Params are chain-wide execution parameters fixed at genesis.
type Params struct {
	MinFee        uint64 `json:"min_fee"`
	GasPerFeeUnit uint64 `json:"gas_per_fee_unit"`
	MaxBlockTxs   int    `json:"max_block_txs"`
	// RangeProofs: the state root also commits the order of the state's
	// keys (next-key records, chain/state), so list answers ("all balances
	// of an account") are proven complete. It changes every state root,
	// so it is fixed at genesis: a genesis without it (written before
	// range proofs existed) replays to the roots its chain has.
	RangeProofs bool `json:"range_proofs,omitempty"`
}

// DefaultParams: a transfer costs 10 units and may use up to 100k gas;
// new chains prove list answers complete.
func DefaultParams() Params {
	return Params{MinFee: 10, GasPerFeeUnit: 10_000, MaxBlockTxs: 10_000, RangeProofs: true}
}

// Validator is an initial validator as written in genesis.json.
type Validator struct {
	Name   string       `json:"name,omitempty"`
	PubKey chain.PubKey `json:"pub_key"`
	Power  uint64       `json:"power"`
}

// Genesis is the document.
type Genesis struct {
	ChainID     string                     `json:"chain_id"`
	GenesisTime time.Time                  `json:"genesis_time"`
	Params      Params                     `json:"params"`
	Validators  []Validator                `json:"validators"`
	AppState    map[string]json.RawMessage `json:"app_state"`
}

var chainIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Validate checks what a chain needs to start.
func (g *Genesis) Validate() error {
	if !chainIDRe.MatchString(g.ChainID) {
		return fmt.Errorf("%w: chain_id %q: use 1-64 lowercase letters, digits, '.', '_' or '-'", ErrInvalid, g.ChainID)
	}
	if g.GenesisTime.IsZero() {
		return fmt.Errorf("%w: genesis_time is missing", ErrInvalid)
	}
	if g.Params.MinFee == 0 || g.Params.GasPerFeeUnit == 0 {
		return fmt.Errorf("%w: params.min_fee and params.gas_per_fee_unit must be positive", ErrInvalid)
	}
	if g.Params.MaxBlockTxs <= 0 || g.Params.MaxBlockTxs > chain.MaxTxsPerBlock {
		return fmt.Errorf("%w: params.max_block_txs %d: must be in 1..%d", ErrInvalid, g.Params.MaxBlockTxs, chain.MaxTxsPerBlock)
	}
	if _, err := g.ValidatorSet(); err != nil {
		return err
	}
	return nil
}

// ValidatorSet builds the initial validator set.
func (g *Genesis) ValidatorSet() (*chain.ValidatorSet, error) {
	vals := make([]chain.Validator, len(g.Validators))
	for i, v := range g.Validators {
		vals[i] = chain.Validator{Address: chain.AddressOf(v.PubKey), PubKey: v.PubKey, Power: v.Power}
	}
	vs, err := chain.NewValidatorSet(vals)
	if err != nil {
		return nil, fmt.Errorf("%w: validators: %w", ErrInvalid, err)
	}
	return vs, nil
}

// Canonical returns the document in canonical JSON (sorted keys, no
// insignificant whitespace); its hash identifies the chain's genesis.
func (g *Genesis) Canonical() ([]byte, error) {
	raw, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("encode genesis: %w", err)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep big integers exact
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonicalize genesis: %w", err)
	}
	return json.Marshal(sortKeys(v)) // encoding/json sorts map keys
}

func sortKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t[k] = sortKeys(t[k])
		}
		return t
	case []any:
		for i := range t {
			t[i] = sortKeys(t[i])
		}
	}
	return v
}

// Hash is sha2-256 of the canonical form.
func (g *Genesis) Hash() (chain.Hash, error) {
	b, err := g.Canonical()
	if err != nil {
		return chain.Hash{}, err
	}
	return chain.Sum256(b), nil
}

// Parse decodes and validates a genesis document, rejecting unknown fields.
func Parse(data []byte) (*Genesis, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var g Genesis
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the document", ErrInvalid)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &g, nil
}

// Load reads and parses a genesis file.
func Load(path string) (*Genesis, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read genesis: %w", err)
	}
	g, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// Write saves the document, indented for people.
func (g *Genesis) Write(path string) error {
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return fmt.Errorf("encode genesis: %w", err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
