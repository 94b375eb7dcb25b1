package royalty

import (
	"errors"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
)

// TestDescribeBuildsAndChecks: every message has examples and builds from
// CLI values into a body Deliver accepts; typos are refused locally.
func TestDescribeBuildsAndChecks(t *testing.T) {
	h := newHarness(t, ptr(testRegistry()))
	d := h.m.Describe()
	for _, m := range d.Msgs {
		if len(m.Examples) == 0 || !strings.HasPrefix(m.Examples[0], "dure tx royalty "+m.Type) {
			t.Errorf("%s: examples %q", m.Type, m.Examples)
		}
	}
	for _, q := range d.Queries {
		if len(q.Examples) == 0 || !strings.HasPrefix(q.Examples[0], "dure query royalty "+q.Path) {
			t.Errorf("query %s: examples %q", q.Path, q.Examples)
		}
	}
	build := func(typ string, raw map[string]string) (chain.Msg, error) {
		md, ok := d.FindMsg(typ)
		if !ok {
			t.Fatalf("no %s", typ)
		}
		v, err := chain.ParseValues(md.Fields, raw, chain.PubKey{})
		if err != nil {
			return chain.Msg{}, err
		}
		return md.Build(h.codec, v)
	}
	m, err := build(TypeCreateSplit, map[string]string{"id": "band", "holders": alice.String() + ":600000," + bob.String() + ":400000"})
	if err != nil {
		t.Fatal(err)
	}
	h.must(alice, m)
	m, err = build(TypeRegister, map[string]string{"id": "song", "cid": cid, "isrc": "KRA012600001", "iswc": "T0345246801",
		"denoms": "nw", "holders": "split:band:700000," + carol.String() + ":300000",
		"waterfall": label.String() + ":500,split:song:rest", "resale-bps": "300"})
	if err != nil {
		t.Fatal(err)
	}
	h.must(alice, m)
	m, err = build(TypeReport, map[string]string{"id": "m1", "period": "2026-11", "denom": "nw", "lines": "song:KR:10:900,song:JP:1:100"})
	if err != nil {
		t.Fatal(err)
	}
	h.must(melon, m)
	if got := h.claimable("song/t0", label, "nw"); got != 500 {
		t.Fatalf("label %d", got)
	}
	for _, c := range []struct {
		typ string
		raw map[string]string
	}{
		{TypeCreateSplit, map[string]string{"id": "x", "holders": alice.String() + ":600000," + bob.String() + ":400001"}},
		{TypeCreateSplit, map[string]string{"id": "X!", "holders": alice.String() + ":1000000"}},
		{TypeCreateSplit, map[string]string{"id": "x", "holders": "alice:1000000"}},
		{TypeRegister, map[string]string{"id": "w", "cid": cid, "iswc": "T0345246802", "denoms": "nw", "holders": alice.String() + ":1000000"}},
		{TypeRegister, map[string]string{"id": "w", "cid": cid, "isrc": "KR-A01", "denoms": "nw", "holders": alice.String() + ":1000000"}},
		{TypeRegister, map[string]string{"id": "w", "cid": cid, "denoms": "nw", "holders": alice.String() + ":1000000", "waterfall": "label:5"}},
		{TypeReport, map[string]string{"id": "r", "period": "2026-11", "denom": "nw", "lines": "song:Korea:1:1"}},
		{TypeReport, map[string]string{"id": "r", "period": "2026/11", "denom": "nw", "lines": "song:KR:1:1"}},
		{TypeReport, map[string]string{"id": "r", "period": "2026-11", "denom": "nw", "lines": "song:KR:1"}},
		{TypePay, map[string]string{"work": "song", "denom": "NW", "amount": "5"}},
	} {
		if _, err := build(c.typ, c.raw); !errors.Is(err, chain.ErrBadField) && !errors.Is(err, chain.ErrInvalidMsg) {
			t.Errorf("%s %v: %v, want a local refusal", c.typ, c.raw, err)
		}
	}
}
