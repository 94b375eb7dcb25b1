package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/nodetest"
)

// TestExampleModuleThroughGenericCLI: apps/notes, wired by one registry
// line, works through `dure tx notes` and `dure query notes` built from its
// description alone; a typo is refused locally (exit 2) and spends nothing.
func TestExampleModuleThroughGenericCLI(t *testing.T) {
	home, _ := initHome(t, "notes-1")
	tn := startNode(t, home)
	self := tn.Key.PubKey().Address()
	common := []string{"--home", home, "--keyring-backend", "test", "--node", tn.Cfg.API.ListenAddr}
	cli := func(args ...string) (int, string, string) { return runCLI(append(args, common...)...) }

	code, out, errs := cli("tx", "notes", "post", "--from", "validator", "--topic", "garden", "--text", "Seedlings free at no. 12")
	var tr txResult
	if code != ExitOK || json.Unmarshal([]byte(out), &tr) != nil || tr.Code != chain.CodeOK || tr.Height == 0 {
		t.Fatalf("tx notes post: exit %d\n%s\n%s", code, out, errs)
	}
	bal, nonce, _ := balanceOf(t, tn.Base, self)

	// Every API answer is snake_case JSON, transactions and consensus state
	// included.
	for _, path := range []string{"/v1/status", "/v1/txs/" + tr.ID.String() + "?prove=true", "/v1/blocks/latest",
		"/v1/accounts/" + self.String() + "?prove=true", "/v1/validators", "/v1/peers", "/v1/query/notes/notes?prove=true",
		"/v1/health", "/v1/blocks/1?txs=true", "/v1/query/staking/validators?prove=true", "/v1/query/currency/balances?prove=true&address=" + self.String()} {
		var v any
		if code := getJSON(t, tn.Base+path, &v); code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
		checkSnake(t, path, v)
	}

	for _, c := range []struct {
		name string
		args []string
	}{
		{"bad topic", []string{"tx", "notes", "post", "--from", "validator", "--topic", "Garden", "--text", "x"}},
		{"text too long", []string{"tx", "notes", "post", "--from", "validator", "--topic", "garden", "--text", strings.Repeat("x", 281)}},
		{"missing text", []string{"tx", "notes", "post", "--from", "validator", "--topic", "garden"}},
		{"bad ttl", []string{"tx", "notes", "post", "--from", "validator", "--topic", "garden", "--text", "x", "--ttl", "a week"}},
		{"unknown flag", []string{"tx", "notes", "post", "--from", "validator", "--topik", "garden"}},
		{"unknown message", []string{"tx", "notes", "pots"}},
		{"enum typo in currency", []string{"tx", "currency", "create", "--from", "validator", "--denom", "nw", "--transfer", "merchant"}},
		{"minutes out of range", []string{"tx", "currency", "confirm-hours", "--from", "validator", "--denom", "nw", "--volunteer", "validator", "--minutes", "60"}},
		{"unknown query path", []string{"query", "notes", "noets"}},
		{"unknown query argument", []string{"query", "notes", "note", "--arg", "idd=0"}},
		{"missing query argument", []string{"query", "notes", "note"}},
	} {
		if code, out, errs := cli(c.args...); code != ExitUsage {
			t.Errorf("%s: exit %d, want %d\n%s\n%s", c.name, code, ExitUsage, out, errs)
		}
	}
	if b, n, _ := balanceOf(t, tn.Base, self); b != bal || n != nonce {
		t.Errorf("refused commands spent something: balance %d→%d, nonce %d→%d", bal, b, nonce, n)
	}

	code, out, errs = cli("query", "notes", "notes", "--arg", "topic=garden")
	var q struct {
		Result   []map[string]any `json:"result"`
		Verified string           `json:"verified"`
	}
	if code != ExitOK || json.Unmarshal([]byte(out), &q) != nil || len(q.Result) != 1 ||
		q.Result[0]["text"] != "Seedlings free at no. 12" || q.Result[0]["author"] != self.String() || q.Verified == "" {
		t.Fatalf("query notes notes: exit %d\n%s\n%s", code, out, errs)
	}

	// --help of the module lists every path with its arguments, and every
	// message and path has its own command with examples.
	code, out, _ = cli("query", "notes", "--help")
	for _, want := range []string{"note ", "id=<uint, required>", "notes ", "topic=<string>", "count "} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("query notes --help lacks %q:\n%s", want, out)
		}
	}
	for _, args := range [][]string{{"tx", "notes", "post"}, {"tx", "notes", "delete"}, {"query", "notes", "count"}} {
		if code, out, _ := cli(append(args, "--help")...); code != ExitOK || !strings.Contains(out, "Examples:") {
			t.Errorf("%v --help: exit %d\n%s", args, code, out)
		}
	}
}

// checkSnake fails the test for any JSON object key in v that is not
// snake_case.
func checkSnake(t *testing.T, where string, v any) { t.Helper(); nodetest.CheckSnake(t, where, v) }
