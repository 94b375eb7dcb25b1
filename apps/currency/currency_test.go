package currency

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
)

var (
	alice = addr(1)
	bob   = addr(2)
	carol = addr(3)
)

func nativeGenesis() Genesis {
	return Genesis{NativeDenom: "dure", Balances: []GenesisBalance{
		{Address: alice, Denom: "dure", Amount: 1000},
		{Address: bob, Denom: "dure", Amount: 50},
	}}
}

func TestSendNative(t *testing.T) {
	cases := []struct {
		name      string
		from      chain.Address
		to        chain.Address
		denom     string
		amount    uint64
		want      error
		wantAlice uint64
		wantBob   uint64
	}{
		{"ok", alice, bob, "dure", 300, nil, 700, 350},
		{"all", alice, bob, "dure", 1000, nil, 0, 1050},
		{"insufficient", bob, alice, "dure", 51, chain.ErrInsufficient, 1000, 50},
		{"from empty account", carol, alice, "dure", 1, chain.ErrInsufficient, 1000, 50},
		{"zero", alice, bob, "dure", 0, chain.ErrInvalidMsg, 1000, 50},
		{"unknown denom", alice, bob, "nope", 1, ErrUnknownDenom, 1000, 50},
		{"to self", alice, alice, "dure", 10, nil, 1000, 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Params{}, nativeGenesis())
			if got := h.deliver(tc.from, h.msg(MsgSend(h.codec, tc.to, tc.denom, tc.amount))); !isErr(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if a, b := h.bal(alice, "dure"), h.bal(bob, "dure"); a != tc.wantAlice || b != tc.wantBob {
				t.Fatalf("balances alice %d bob %d, want %d %d", a, b, tc.wantAlice, tc.wantBob)
			}
			if s := h.supply("dure"); s != 1050 {
				t.Fatalf("supply %d, want 1050", s)
			}
			if err := h.checkInvariants(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSendOverflow(t *testing.T) {
	// Two genesis holders whose sum fits but whose transfer would not: the
	// supply check catches a genesis that would overflow first.
	g := Genesis{NativeDenom: "dure", Balances: []GenesisBalance{
		{Address: alice, Denom: "dure", Amount: math.MaxUint64},
		{Address: bob, Denom: "dure", Amount: 1},
	}}
	raw, _ := json.Marshal(g)
	if _, err := tryGenesis(t, raw); !errors.Is(err, ErrOverflow) {
		t.Fatalf("genesis supply overflow: got %v, want ErrOverflow", err)
	}

	// Mint to the max, then a transfer to a full account overflows.
	h := newHarness(t, Params{}, Genesis{NativeDenom: "dure"})
	if err := h.m.Mint(h.ctx(alice), alice, "dure", math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Mint(h.ctx(alice), bob, "dure", 1); !errors.Is(err, ErrOverflow) {
		t.Fatalf("mint past max supply: got %v, want ErrOverflow", err)
	}
}

func TestChargeFee(t *testing.T) {
	h := newHarness(t, Params{}, nativeGenesis())
	if err := h.m.ChargeFee(h.ctx(alice), alice, 25); err != nil {
		t.Fatal(err)
	}
	if got := h.bal(FeeCollector(), "dure"); got != 25 {
		t.Fatalf("fee collector has %d, want 25", got)
	}
	if got := h.bal(alice, "dure"); got != 975 {
		t.Fatalf("alice has %d, want 975", got)
	}
	err := h.m.ChargeFee(h.ctx(bob), bob, 51)
	if !errors.Is(err, chain.ErrInsufficient) {
		t.Fatalf("fee above balance: got %v, want ErrInsufficient", err)
	}
	if err := h.m.ChargeFee(h.ctx(carol), carol, 0); err != nil {
		t.Fatalf("zero fee: %v", err)
	}
	if FeeCollector() != ModuleAddress("currency/fees") || FeeCollector() == ModuleAddress("staking") {
		t.Fatal("module addresses not distinct and deterministic")
	}
}

func TestBankMethods(t *testing.T) {
	h := newHarness(t, Params{ModuleAccounts: []chain.Address{ModuleAddress("staking")}}, nativeGenesis())
	ctx := h.ctx(chain.Address{})
	stake := ModuleAddress("staking")
	if err := h.m.Transfer(ctx, alice, stake, "dure", 400); err != nil {
		t.Fatal(err)
	}
	if b, err := h.m.Balance(ctx, stake, "dure"); err != nil || b != 400 {
		t.Fatalf("staking balance %d, %v", b, err)
	}
	if err := h.m.Burn(ctx, stake, "dure", 100); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Mint(ctx, bob, "dure", 7); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Burn(ctx, stake, "dure", 301); !errors.Is(err, chain.ErrInsufficient) {
		t.Fatalf("burn too much: %v", err)
	}
	if s, _ := h.m.Supply(ctx, "dure"); s != 1050-100+7 {
		t.Fatalf("supply %d", s)
	}
	if _, err := h.m.Balance(ctx, bob, "zzz"); !errors.Is(err, ErrUnknownDenom) {
		t.Fatalf("unknown denom: %v", err)
	}
	h.store().commit()
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestDeliverRejectsBadMessages(t *testing.T) {
	h := newHarness(t, Params{}, nativeGenesis())
	good, _ := MsgSend(h.codec, bob, "dure", 1)
	nonCanon := good
	// Re-encode the amount 1 in two bytes (0x18 0x01): same value, not canonical.
	nonCanon.Body = append(append([]byte{}, good.Body[:len(good.Body)-1]...), 0x18, 0x01)
	cases := []struct {
		name string
		msg  chain.Msg
		want error
	}{
		{"unknown type", chain.Msg{Module: ModuleName, Type: "steal", Body: good.Body}, chain.ErrUnknownMsg},
		{"garbage body", chain.Msg{Module: ModuleName, Type: TypeSend, Body: []byte{0xff}}, chain.ErrInvalidMsg},
		{"wrong shape", chain.Msg{Module: ModuleName, Type: TypeMint, Body: good.Body}, chain.ErrInvalidMsg},
		{"non-canonical", nonCanon, chain.ErrInvalidMsg},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.deliver(alice, tc.msg); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestGenesisFormat(t *testing.T) {
	good := `{"native_denom":"dure","balances":[{"address":"` + alice.String() + `","denom":"dure","amount":"1000"},
		{"address":"` + bob.String() + `","denom":"dure","amount":25}]}`
	cases := []struct {
		name string
		json string
		want string // error substring; "" = ok
	}{
		{"strings and numbers", good, ""},
		{"unknown field", `{"native_denom":"dure","extra":1}`, "unknown field"},
		{"bad denom", `{"native_denom":"D"}`, "invalid denom"},
		{"negative amount", `{"native_denom":"dure","balances":[{"address":"` + alice.String() + `","denom":"dure","amount":-1}]}`, "non-negative"},
		{"bad address", `{"native_denom":"dure","balances":[{"address":"dure1xyz","denom":"dure","amount":1}]}`, "invalid address"},
		{"unknown denom", `{"native_denom":"dure","balances":[{"address":"` + alice.String() + `","denom":"nw","amount":1}]}`, "unknown denom"},
		{"bad rules", `{"native_denom":"dure","currencies":[{"denom":"nw","issuer":"` + alice.String() + `","rules":{"transfer":"anyhow"}}]}`, "invalid rules"},
		{"duplicate currency", `{"native_denom":"dure","currencies":[{"denom":"dure","issuer":"` + alice.String() + `","rules":{"transfer":"free"}}]}`, "already exists"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mt, err := tryGenesis(t, json.RawMessage(tc.json))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				r, err := mt.QueryOpen(ModuleName, "balance", map[string]string{"address": bob.String(), "denom": "dure"})
				if err != nil || r.(BalanceResult).Amount != 25 {
					t.Fatalf("bob: %v %v", r, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestQueries(t *testing.T) {
	h := newHarness(t, Params{}, nativeGenesis())
	r, err := h.query("balances", map[string]string{"address": alice.String()})
	if err != nil {
		t.Fatal(err)
	}
	bs := r.([]BalanceResult)
	if len(bs) != 1 || bs[0].Denom != "dure" || bs[0].Amount != 1000 {
		t.Fatalf("balances: %+v", bs)
	}
	out, _ := json.Marshal(bs)
	if !strings.Contains(string(out), `"amount":"1000"`) || !strings.Contains(string(out), alice.String()) {
		t.Fatalf("balances JSON: %s", out)
	}
	if r, err := h.query("native", nil); err != nil || r.(map[string]string)["denom"] != "dure" {
		t.Fatalf("native: %v %v", r, err)
	}
	bad := []struct {
		path string
		args map[string]string
		want error
	}{
		{"balance", map[string]string{"address": "x", "denom": "dure"}, chain.ErrInvalidMsg},
		{"balance", map[string]string{"address": alice.String(), "denom": "nope"}, chain.ErrNotFound},
		{"supply", map[string]string{"denom": "nope"}, chain.ErrNotFound},
		{"merchant", map[string]string{"address": alice.String(), "denom": "dure"}, chain.ErrNotFound},
		{"currencies", map[string]string{"limit": "-1"}, chain.ErrInvalidMsg},
		{"nothing", nil, chain.ErrUnknownMsg},
	}
	for _, tc := range bad {
		if _, err := h.query(tc.path, tc.args); !errors.Is(err, tc.want) {
			t.Errorf("query %s %v: got %v, want %v", tc.path, tc.args, err, tc.want)
		}
	}
}

func TestAmountJSON(t *testing.T) {
	for in, want := range map[string]uint64{`"18446744073709551615"`: math.MaxUint64, `0`: 0, `"7"`: 7, `700`: 700} {
		var a Amount
		if err := json.Unmarshal([]byte(in), &a); err != nil || uint64(a) != want {
			t.Errorf("%s: got %d, %v", in, a, err)
		}
	}
	for _, in := range []string{`"18446744073709551616"`, `-1`, `1.5`, `"0x10"`, `null`, `""`, `true`} {
		var a Amount
		if err := json.Unmarshal([]byte(in), &a); err == nil {
			t.Errorf("%s: accepted as %d", in, a)
		}
	}
}

// bank is what a consumer such as staking or energy declares; *Module must
// keep satisfying it.
type bank interface {
	Balance(ctx *chain.Context, addr chain.Address, denom string) (uint64, error)
	Transfer(ctx *chain.Context, from, to chain.Address, denom string, amount uint64) error
	Mint(ctx *chain.Context, to chain.Address, denom string, amount uint64) error
	Burn(ctx *chain.Context, from chain.Address, denom string, amount uint64) error
}

var _ bank = (*Module)(nil)
