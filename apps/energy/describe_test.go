package energy

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/dure-network/dure/chain"
)

// TestDescribeBuilds: the messages `dure tx energy` builds from flag
// values are the ones the module accepts — a reading signed locally from
// --device-seed verifies on chain — and bad values are refused before
// anything is signed.
func TestDescribeBuilds(t *testing.T) {
	h := base(t)
	d := h.m.Describe()
	build := func(typ string, raw map[string]string) (chain.Msg, error) {
		md, ok := d.FindMsg(typ)
		if !ok {
			t.Fatalf("no message %q", typ)
		}
		v, err := chain.ParseValues(md.Fields, raw, chain.PubKey{})
		if err != nil {
			return chain.Msg{}, err
		}
		return md.Build(h.codec, v)
	}
	seed := hex.EncodeToString(make([]byte, 32))
	dev, _ := chain.PrivKeyFromSeed(make([]byte, 32))
	m, err := build(TypeRegisterMeter, map[string]string{"id": "cli-1", "market": "nowon", "kind": "producer",
		"device-key": dev.PubKey().String()})
	h.must(owner(1), m, err)
	m, err = build(TypeAttestMeter, map[string]string{"meter": "cli-1"})
	h.must(operator, m, err)
	m, err = build(TypeSubmitReadings, map[string]string{"meter": "cli-1", "interval": "2026-12-01T23:45:00Z",
		"counter": "7", "end-export": "300", "device-seed": seed})
	h.must(gateway, m, err)
	r := h.mustQuery("reading", map[string]string{"meter": "cli-1", "interval": "2026-12-01T23:45:00Z"}).(ReadingResult)
	if r.ExportWh != 300 || r.Counter != 7 {
		t.Fatalf("reading %+v", r)
	}
	m, err = build(TypeOffer, map[string]string{"meter": "cli-1", "interval": "2026-12-02T01:00:00Z", "wh": "300", "price": "70"})
	h.must(owner(1), m, err)
	m, err = build(TypeCreateMarket, map[string]string{"id": "gangbuk", "denom": denom, "operator": operator.String()})
	h.must(city, m, err)
	mk := h.mustQuery("market", map[string]string{"id": "gangbuk"}).(*Market)
	if mk.IntervalSecs != 900 || mk.GateLeadSecs != 300 || mk.ReadingDeadlineSecs != 3600 {
		t.Fatalf("defaults: %+v", mk)
	}
	for _, c := range []struct {
		typ string
		raw map[string]string
	}{
		{TypeRegisterMeter, map[string]string{"id": "x", "market": "nowon", "kind": "solar", "device-key": dev.PubKey().String()}},
		{TypeRegisterMeter, map[string]string{"id": "x", "market": "nowon", "kind": "producer", "device-key": "abc"}},
		{TypeSubmitReadings, map[string]string{"meter": "cli-1", "interval": "2026-12-01T23:45:00Z", "counter": "8"}},
		{TypeSubmitReadings, map[string]string{"meter": "cli-1", "interval": "yesterday", "counter": "8", "device-seed": seed}},
		{TypeOffer, map[string]string{"meter": "cli-1", "interval": "2026-12-02T01:00:00Z", "wh": "0", "price": "70"}},
		{TypeCreateMarket, map[string]string{"id": "y", "denom": denom, "operator": operator.String(), "fee-bps": "10001"}},
	} {
		if _, err := build(c.typ, c.raw); !errors.Is(err, chain.ErrBadField) && !errors.Is(err, chain.ErrInvalidMsg) {
			t.Errorf("%s %v: %v, want a local refusal", c.typ, c.raw, err)
		}
	}
}
