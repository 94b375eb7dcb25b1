package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/node/keystore"
	"github.com/dure-network/dure/testnet/load"
)

func TestBenchConfig(t *testing.T) {
	dir := t.TempDir()
	ks, err := keystore.Open(filepath.Join(dir, "keys"), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Add("alice"); err != nil {
		t.Fatal(err)
	}
	manifest := `{"chain_id":"c","nodes":[{"name":"node0","api":"http://127.0.0.1:1"},{"name":"node1","api":"http://127.0.0.1:2"}],"accounts":["alice"]}`
	if err := os.WriteFile(filepath.Join(dir, "testnet.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &globals{home: t.TempDir(), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	ok := benchOpts{dir: dir, rate: 10, duration: time.Second, accounts: 10}
	ok.output = "text"
	for _, tc := range []struct {
		name     string
		mod      func(o *benchOpts)
		wantCode int    // 0 = no error
		wantMsg  string // in the error
	}{
		{"manifest", func(o *benchOpts) {}, 0, ""},
		{"bad output", func(o *benchOpts) { o.output = "yaml" }, ExitUsage, "-o"},
		{"negative rate", func(o *benchOpts) { o.rate = -1 }, ExitUsage, "--rate"},
		{"zero duration", func(o *benchOpts) { o.duration = 0 }, ExitUsage, "--duration"},
		{"one account", func(o *benchOpts) { o.accounts = 1 }, ExitUsage, "--accounts"},
		{"no manifest", func(o *benchOpts) { o.dir = t.TempDir() }, ExitUsage, "dure testnet"},
		{"nodes without from", func(o *benchOpts) { o.nodes = "127.0.0.1:1" }, ExitUsage, "--from"},
		{"unknown funder", func(o *benchOpts) { o.from = "zed" }, ExitNotFound, "zed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			cfg, err := o.config(g)
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if len(cfg.Nodes) != 2 || len(cfg.Keys) != 1 || cfg.Rate != 10 {
					t.Fatalf("config %+v: want 2 nodes and the alice key", cfg)
				}
				return
			}
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != tc.wantCode || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err %v, want exit %d mentioning %q", err, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestPrintBench(t *testing.T) {
	rep := load.Report{Nodes: 4, Accounts: 10, Rate: 0, Concurrency: 8, TPS: 1234.5, Committed: 100, Accepted: 100,
		Rejected: map[string]int64{"mempool_full": 3}, Latency: load.Latency{P50: 250 * time.Millisecond, P99: time.Second}}
	var text, js bytes.Buffer
	if err := printBench(&text, "text", rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"closed loop", "1234.5", "p50 250ms", "mempool_full=3", "lost"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, text.String())
		}
	}
	if err := printBench(&js, "json", rep); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["committed_tps"] != 1234.5 || got["latency_p50_ms"] != 250.0 || got["rejected_total"] != 3.0 || got["lost"] != 0.0 {
		t.Fatalf("json headline figures wrong: %v", got)
	}
}
