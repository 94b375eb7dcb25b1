package genesis

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

func sample(t *testing.T) *Genesis {
	t.Helper()
	k, err := chain.PrivKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &Genesis{
		ChainID:     "dure-test-1",
		GenesisTime: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		Params:      DefaultParams(),
		Validators:  []Validator{{Name: "v0", PubKey: k.PubKey(), Power: 10}},
		AppState:    map[string]json.RawMessage{"currency": json.RawMessage(`{"b":1,"a":2}`)},
	}
}

func TestRoundTripAndHashStable(t *testing.T) {
	g := sample(t)
	path := filepath.Join(t.TempDir(), "genesis.json")
	if err := g.Write(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := g.Hash()
	h2, _ := back.Hash()
	if h1 != h2 {
		t.Fatalf("hash changed across write/load: %s vs %s", h1, h2)
	}
	// Key order inside app state does not change the hash.
	back.AppState["currency"] = json.RawMessage(`{ "a": 2, "b": 1 }`)
	if h3, _ := back.Hash(); h3 != h1 {
		t.Fatal("key order changed the hash")
	}
	back.ChainID = "dure-test-2"
	if h4, _ := back.Hash(); h4 == h1 {
		t.Fatal("different chain id, same hash")
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := json.Marshal(sample(t))
	cases := []struct {
		name, mutate, want string
	}{
		{"unknown field", `"chain_id":"dure-test-1","extra":1`, "unknown field"},
		{"bad chain id", `"chain_id":"Bad ID"`, "chain_id"},
		{"zero power", `"power":0`, "validators"},
		{"zero fee", `"min_fee":0`, "min_fee"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var orig string
			switch {
			case strings.HasPrefix(tc.mutate, `"chain_id"`):
				orig = `"chain_id":"dure-test-1"`
			case strings.HasPrefix(tc.mutate, `"power"`):
				orig = `"power":10`
			default:
				orig = `"min_fee":10`
			}
			in := strings.Replace(string(good), orig, tc.mutate, 1)
			_, err := Parse([]byte(in))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte(`{`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("truncated: %v", err)
	}
}

// TestRangeProofsParam: new genesis documents turn range proofs on; one
// written before the parameter existed parses with it off and keeps its
// canonical form (so its hash, the chain's identity, is unchanged).
func TestRangeProofsParam(t *testing.T) {
	if !DefaultParams().RangeProofs {
		t.Fatal("DefaultParams: range proofs off for new chains")
	}
	g := sample(t)
	g.Params.RangeProofs = false
	c, err := g.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(c), "range_proofs") {
		t.Fatalf("canonical form of a genesis without range proofs names them: %s", c)
	}
	old, err := Parse(c)
	if err != nil || old.Params.RangeProofs {
		t.Fatalf("older genesis: %+v %v", old.Params, err)
	}
	g.Params.RangeProofs = true
	c2, _ := g.Canonical()
	if !strings.Contains(string(c2), `"range_proofs":true`) {
		t.Fatalf("canonical form with range proofs: %s", c2)
	}
}
