package testnet

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/energy"
	"github.com/dure-network/dure/chain"
)

// energyCLI runs `dure` against node p of the network with the demo
// keyring, logs the command and what it printed, and returns the output.
func (n *e2eNet) energyCLI(p *Proc, want int, args ...string) string {
	n.t.Helper()
	args = append(args, "--home", n.Dir, "--keyring-backend", "test", "--node", p.Node.API)
	cmd := exec.Command(dureBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatalf("dure %s: %v", strings.Join(args, " "), err)
	}
	n.t.Logf("$ dure %s\n%s%s", strings.Join(args[:len(args)-6], " "), out.String(), errb.String())
	if code != want {
		n.t.Fatalf("dure %s: exit %d, want %d\n%s\n%s", strings.Join(args, " "), code, want, out.String(), errb.String())
	}
	return out.String()
}

// energyTx runs `dure tx energy|currency …` and requires the committed
// result code.
func (n *e2eNet) energyTx(p *Proc, code uint32, args ...string) {
	n.t.Helper()
	exit := 0
	if code != 0 {
		exit = 1
	}
	out := n.energyCLI(p, exit, append([]string{"tx"}, args...)...)
	var r struct {
		Code   uint32 `json:"code"`
		Height uint64 `json:"height"`
		Log    string `json:"log"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Code != code || r.Height == 0 {
		n.t.Fatalf("tx %v: %s (want code %d)", args, out, code)
	}
}

// energyQuery runs a proven `dure query` on p and decodes its result; the
// CLI has already checked every proof and recomputed the answer.
func (n *e2eNet) energyQuery(p *Proc, out any, args ...string) {
	n.t.Helper()
	raw := n.energyCLI(p, 0, append([]string{"query"}, args...)...)
	var res struct {
		Result   json.RawMessage `json:"result"`
		Verified string          `json:"verified"`
	}
	if err := json.Unmarshal([]byte(raw), &res); err != nil || res.Verified == "" {
		n.t.Fatalf("query %v: not verified: %s", args, raw)
	}
	if err := json.Unmarshal(res.Result, out); err != nil {
		n.t.Fatalf("query %v: %v", args, err)
	}
}

// TestEnergyMarketOnTestnet: a neighbourhood energy market on four
// validators, driven only through the generic CLI (`dure tx energy`,
// `dure query energy`, every answer proven): the city issues a local
// currency and opens a market with 30-second intervals, the operator
// attests a rooftop meter, a flat's meter and an EV charger; the roof
// sells, the flat bids, both devices sign their readings, the interval
// clears and settles; a reading signed by the wrong key is refused; the
// driver charges at the charger; every statement is recomputed here from
// the proven clearing and readings, and all four nodes answer alike.
func TestEnergyMarketOnTestnet(t *testing.T) {
	slow(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	p := n.Procs[0]
	seed := func(i byte) (string, string) {
		s := bytes.Repeat([]byte{i}, 32)
		k, err := chain.PrivKeyFromSeed(s)
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(s), k.PubKey().String()
	}
	roofSeed, roofKey := seed(1)
	flatSeed, flatKey := seed(2)
	evSeed, evKey := seed(3)

	n.energyTx(p, 0, "currency", "create", "--from", "alice", "--denom", "nw", "--transfer", "free")
	n.energyTx(p, 0, "currency", "mint", "--from", "alice", "--denom", "nw", "--to", "dave", "--amount", "100000")
	n.energyTx(p, 0, "energy", "create-market", "--from", "alice", "--id", "nowon-solar", "--denom", "nw",
		"--operator", "bob", "--interval", "30s", "--gate-lead", "5s", "--reading-deadline", "10s",
		"--fee-per-kwh", "10", "--fee-bps", "100", "--retail-price", "180", "--feed-in-price", "60", "--penalty-bps", "2000")
	n.energyTx(p, 0, "energy", "register-meter", "--from", "carol", "--id", "roof-1", "--market", "nowon-solar",
		"--kind", "prosumer", "--device-key", roofKey)
	n.energyTx(p, 0, "energy", "register-meter", "--from", "dave", "--id", "flat-1", "--market", "nowon-solar",
		"--kind", "consumer", "--device-key", flatKey)
	n.energyTx(p, 0, "energy", "register-meter", "--from", "carol", "--id", "ev-1", "--market", "nowon-solar",
		"--kind", "ev-charger", "--tariff", "150", "--device-key", evKey)
	// Not attested yet: refused with the reason.
	n.energyTx(p, chain.CodeUnauthorized, "energy", "offer", "--from", "carol", "--meter", "roof-1",
		"--interval", time.Unix((time.Now().Unix()/30+3)*30, 0).UTC().Format(time.RFC3339), "--wh", "1000", "--price", "80")
	for _, m := range []string{"roof-1", "flat-1", "ev-1"} {
		n.energyTx(p, 0, "energy", "attest-meter", "--from", "bob", "--meter", m)
	}
	// The next interval at least 20 s ahead, so both orders beat its gate.
	T := (time.Now().Unix()+20)/30*30 + 30
	at := time.Unix(T, 0).UTC().Format(time.RFC3339)
	n.energyTx(p, 0, "energy", "offer", "--from", "carol", "--meter", "roof-1", "--interval", at, "--wh", "1000", "--price", "80")
	n.energyTx(p, 0, "energy", "bid", "--from", "dave", "--meter", "flat-1", "--interval", at, "--wh", "1000", "--price", "150")
	var book struct {
		Orders []map[string]any `json:"orders"`
	}
	n.energyQuery(p, &book, "energy", "book", "--arg", "market=nowon-solar", "--arg", "interval="+at)
	if len(book.Orders) != 2 {
		t.Fatalf("book: %v", book.Orders)
	}
	// The driver starts charging meanwhile.
	n.energyTx(p, 0, "energy", "start-session", "--from", "dave", "--charger", "ev-1", "--max-wh", "20000", "--max-price", "200")

	waitUntil := func(unix int64) {
		for time.Now().Unix() < unix {
			select {
			case <-ctx.Done():
				t.Fatal("timeout")
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	waitUntil(T + 32)
	reading := func(meter string, counter int, imp, exp int, seedHex string, code uint32) {
		n.energyTx(p, code, "energy", "submit-readings", "--from", "alice", "--meter", meter, "--interval", at,
			"--counter", fmt.Sprint(counter), "--start-import", "0", "--end-import", fmt.Sprint(imp),
			"--start-export", "0", "--end-export", fmt.Sprint(exp), "--device-seed", seedHex)
	}
	reading("roof-1", 1, 50, 700, flatSeed, chain.CodeUnauthorized) // signed by the wrong device
	reading("roof-1", 1, 50, 700, roofSeed, 0)                       // a cloud: 700 of 1,000 Wh
	reading("flat-1", 1, 1100, 0, flatSeed, 0)
	n.energyTx(p, 0, "energy", "end-session", "--from", "alice", "--session", "3", "--charger", "ev-1",
		"--counter", "1", "--start-wh", "0", "--stop-wh", "12500", "--device-seed", evSeed)
	waitUntil(T + 30 + 12)

	// Recompute the statements from the proven clearing and readings.
	type trade struct {
		Wh, Price, Cost, DeliveredWh, Paid, Fee, Refund, Penalty string
	}
	var cl struct {
		Price     string            `json:"price"`
		VolumeWh  string            `json:"volume_wh"`
		Settled   bool              `json:"settled"`
		TradeList []json.RawMessage `json:"trade_list"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		n.energyQuery(p, &cl, "energy", "clearing", "--arg", "market=nowon-solar", "--arg", "interval="+at)
		if cl.Settled || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if !cl.Settled || cl.Price != "109" || cl.VolumeWh != "1000" || len(cl.TradeList) != 1 {
		t.Fatalf("clearing: %+v", cl)
	}
	var roofR, flatR struct {
		ImportWh string `json:"import_wh"`
		ExportWh string `json:"export_wh"`
	}
	n.energyQuery(p, &roofR, "energy", "reading", "--arg", "meter=roof-1", "--arg", "interval="+at)
	n.energyQuery(p, &flatR, "energy", "reading", "--arg", "meter=flat-1", "--arg", "interval="+at)
	u := func(s string) uint64 {
		var v uint64
		fmt.Sscan(s, &v)
		return v
	}
	// One trade of 1000 Wh at 109: the roof's 700 Wh is the delivery.
	d := min(1000, u(roofR.ExportWh), u(flatR.ImportWh))
	v := d * 109 / 1000
	fee := d*10/1000 + v*100/10000
	pen := (1000 - d) * 109 / 1000 * 2000 / 10000
	want := map[string]map[string]string{
		"roof-1": {"delivered_wh": fmt.Sprint(d), "received": fmt.Sprint(v), "penalty_paid": fmt.Sprint(pen),
			"excess_export_wh": "0", "excess_import_wh": "50", "retail_value": fmt.Sprint(50 * 180 / 1000)},
		"flat-1": {"delivered_wh": fmt.Sprint(d), "paid": fmt.Sprint(v + fee), "fees": fmt.Sprint(fee),
			"refunded": fmt.Sprint(120 - v - fee), "penalty_received": fmt.Sprint(pen),
			"excess_import_wh": fmt.Sprint(1100 - d), "retail_value": fmt.Sprint((1100 - d) * 180 / 1000)},
	}
	for meter, fields := range want {
		var first string
		for i, q := range n.Procs {
			var st map[string]any
			n.energyQuery(q, &st, "energy", "statement", "--arg", "meter="+meter, "--arg", "interval="+at)
			for k, w := range fields {
				if fmt.Sprint(st[k]) != w {
					t.Fatalf("%s statement of %s: %s = %v, recomputed %s\n%v", q.Node.Name, meter, k, st[k], w, st)
				}
			}
			j, _ := json.Marshal(st)
			if i == 0 {
				first = string(j)
			} else if string(j) != first {
				t.Fatalf("%s disagrees on %s: %s vs %s", q.Node.Name, meter, j, first)
			}
		}
	}
	var sess map[string]any
	n.energyQuery(p, &sess, "energy", "session", "--arg", "id=3")
	if sess["settled"] != true || sess["delivered_wh"] != "12500" || sess["paid"] != "1875" || sess["fee"] != "143" {
		t.Fatalf("session: %v", sess)
	}
	var esc map[string]any
	n.energyQuery(p, &esc, "currency", "balance", "--arg", "address="+energy.EscrowAccount().String(), "--arg", "denom=nw")
	if esc["amount"] != "0" {
		t.Fatalf("escrow still holds %v", esc["amount"])
	}
}
