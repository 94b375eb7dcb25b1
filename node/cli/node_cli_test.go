package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

// TestCLIAgainstSingleValidatorNode runs one in-process validator (real
// Badger, real libp2p host on 127.0.0.1, real HTTP API) and uses it the
// way an operator does, through the CLI: commands against the node, then
// the same queries through a proxy that lies. Subtests share the node and
// run in order.
func TestCLIAgainstSingleValidatorNode(t *testing.T) {
	home, _ := initHome(t, "t-1")
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	self := tn.Key.PubKey().Address()
	bob := newKey(t).PubKey().Address()
	var sent struct {
		id     chain.ID
		height uint64
	}
	// A committed transfer to bob: a tx to look up and a balance to prove.
	_, nonce0, _ := balanceOf(t, tn.Base, self)
	raw := sendTx(t, tn.ChainID, tn.Key, nonce0, 10, bob, 1000)
	res, err := tn.Client.Submit(ctx, raw, true)
	if err != nil || res.Result == nil || res.Result.Code != chain.CodeOK {
		t.Fatalf("transfer: %+v, %v", res, err)
	}
	sent.id, sent.height = res.ID, res.Height

	t.Run("cli against the node", func(t *testing.T) {
		node := tn.Cfg.API.ListenAddr
		before, _, _ := balanceOf(t, tn.Base, bob)
		code, out, errs := runCLI("tx", "currency", "send", "--home", home, "--keyring-backend", "test",
			"--from", "validator", "--to", bob.String(), "--amount", "7", "--node", node)
		if code != ExitOK {
			t.Fatalf("tx currency send: exit %d\n%s\n%s", code, out, errs)
		}
		var txOut any
		if json.Unmarshal([]byte(out), &txOut) == nil {
			checkSnake(t, "dure tx currency send", txOut)
		}
		var tr txResult
		if err := json.Unmarshal([]byte(out), &tr); err != nil || tr.Height == 0 || tr.Code != 0 || tr.ID == "" {
			t.Fatalf("tx output %q: %+v %v", out, tr, err)
		}
		for _, q := range []struct {
			name string
			args []string
		}{
			{"account", []string{"query", "account", bob.String()}},
			{"account by key name", []string{"query", "account", "validator", "--keyring-backend", "test"}},
			{"tx", []string{"query", "tx", tr.ID.String()}},
			{"block", []string{"query", "block", strconv.FormatUint(tr.Height, 10)}},
			{"latest block", []string{"query", "block", "latest"}},
			{"currency balances", []string{"query", "currency", "balances", "--arg", "address=" + bob.String()}},
		} {
			code, out, errs := runCLI(append(q.args, "--home", home, "--node", node)...)
			var m map[string]any
			if code != ExitOK || json.Unmarshal([]byte(out), &m) != nil {
				t.Errorf("%s: exit %d\n%s\n%s", q.name, code, out, errs)
				continue
			}
			if v, _ := m["verified"].(string); v == "" {
				t.Errorf("%s: no \"verified\" field in %s", q.name, out)
			}
			checkSnake(t, "dure "+strings.Join(q.args, " "), map[string]any(m))
		}
		if after, _, _ := balanceOf(t, tn.Base, bob); after != before+7 {
			t.Errorf("bob's balance %d after CLI send of 7, was %d", after, before)
		}
		for _, c := range []struct {
			name string
			args []string
			want int
		}{
			{"missing block", []string{"query", "block", "99999999"}, ExitNotFound},
			{"missing tx", []string{"query", "tx", chain.IDOf([]byte("nope")).String()}, ExitNotFound},
			{"bad height", []string{"query", "block", "zero"}, ExitUsage},
			{"bad tx id", []string{"query", "tx", "xyz"}, ExitUsage},
			{"unknown key as address", []string{"query", "account", "nobody", "--keyring-backend", "test"}, ExitUsage},
			{"send without --from", []string{"tx", "currency", "send", "--to", bob.String(), "--amount", "1"}, ExitUsage},
			{"send to nobody", []string{"tx", "currency", "send", "--from", "validator", "--keyring-backend", "test", "--to", "nobody", "--amount", "1"}, ExitUsage},
			{"send with low fee", []string{"tx", "currency", "send", "--from", "validator", "--keyring-backend", "test", "--to", bob.String(), "--amount", "1", "--fee", "1"}, ExitError},
			{"status", []string{"status"}, ExitOK},
			{"status text", []string{"status", "-o", "text"}, ExitOK},
		} {
			code, out, errs := runCLI(append(c.args, "--home", home, "--node", node)...)
			if code != c.want {
				t.Errorf("%s: exit %d, want %d\n%s\n%s", c.name, code, c.want, out, errs)
			}
		}
		for _, args := range [][]string{{"status"}, {"query", "validators"}, {"query", "staking", "validators"}} {
			code, out, errs := runCLI(append(args, "--home", home, "--node", node)...)
			var v any
			if code != ExitOK || json.Unmarshal([]byte(out), &v) != nil {
				t.Errorf("%v: exit %d\n%s\n%s", args, code, out, errs)
				continue
			}
			checkSnake(t, "dure "+strings.Join(args, " "), v)
		}
		// Without --node, the CLI finds the API through --home's config.
		if code, out, errs := runCLI("status", "--home", home); code != ExitOK || !strings.Contains(out, `"chain_id": "t-1"`) {
			t.Errorf("status via home: exit %d\n%s\n%s", code, out, errs)
		}
	})

	t.Run("cli catches a lying node", func(t *testing.T) {
		// A proxy in front of the node rewrites answers; the CLI's proof
		// checks must refuse what the proofs do not cover.
		type lie struct {
			name string
			path string // request path prefix the proxy alters
			edit func(m map[string]any)
			args []string
		}
		lies := []lie{
			{"proven value altered", "/v1/accounts/", func(m map[string]any) {
				ps := m["proofs"].([]any)
				p := ps[len(ps)-1].(map[string]any)
				p["value"] = "AAAA"
			}, []string{"query", "account", bob.String()}},
			{"state root altered", "/v1/accounts/", func(m map[string]any) {
				m["state_root"] = strings.Repeat("ab", 32)
			}, []string{"query", "account", bob.String()}},
			{"tx bytes altered", "/v1/txs/", func(m map[string]any) {
				m["raw"] = "AAAA"
			}, []string{"query", "tx", sent.id.String()}},
			{"balance shown differs from the proven one", "/v1/accounts/", func(m map[string]any) {
				m["balances"].([]any)[0].(map[string]any)["amount"] = "999999999"
			}, []string{"query", "account", bob.String()}},
			{"nonce shown differs from the proven one", "/v1/accounts/", func(m map[string]any) {
				m["nonce"] = 424242
			}, []string{"query", "account", self.String()}},
			{"proofs left out", "/v1/accounts/", func(m map[string]any) {
				delete(m, "proofs")
				m["balances"].([]any)[0].(map[string]any)["amount"] = "5"
			}, []string{"query", "account", bob.String()}},
			{"tx result code forged", "/v1/txs/", func(m map[string]any) {
				m["result"].(map[string]any)["code"] = 7
			}, []string{"query", "tx", sent.id.String()}},
		}
		for _, l := range lies {
			proxy := lyingProxy(t, tn.Base, l.path, l.edit)
			code, out, errs := runCLI(append(l.args, "--home", home, "--node", proxy)...)
			if code == ExitError && strings.Contains(errs, "verification failed") {
				continue
			}
			t.Errorf("%s: exit %d, want %d with \"verification failed\"\n%s\n%s", l.name, code, ExitError, out, errs)
		}
		// The proxy itself does not break honest answers.
		proxy := lyingProxy(t, tn.Base, "/nothing/", nil)
		if code, out, errs := runCLI("query", "account", bob.String(), "--home", home, "--node", proxy); code != ExitOK {
			t.Errorf("honest proxy: exit %d\n%s\n%s", code, out, errs)
		}
	})

}

// lyingProxy serves base through a reverse proxy that passes JSON answers
// for paths starting with prefix through edit. It returns host:port.
func lyingProxy(t *testing.T, base, prefix string, edit func(map[string]any)) string {
	t.Helper()
	return rewritingProxy(t, base, func(path string, status int) bool {
		return edit != nil && strings.HasPrefix(path, prefix) && status == 200
	}, func(path string, body []byte) ([]byte, error) {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, err
		}
		edit(m)
		body, _ = json.Marshal(m)
		return body, nil
	})
}

// rewritingProxy serves base through a reverse proxy: the body of each
// answer for which want (of its request path and status) holds is read
// whole and replaced by what rewrite returns. It returns host:port.
func rewritingProxy(t *testing.T, base string, want func(path string, status int) bool, rewrite func(path string, body []byte) ([]byte, error)) string {
	t.Helper()
	target, _ := url.Parse(base)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		path := resp.Request.URL.Path
		if !want(path, resp.StatusCode) {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body, err = rewrite(path, body)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
