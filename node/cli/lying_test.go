package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/node/api"
)

// jsonPath addresses a value in a decoded JSON answer: string keys and
// int indexes.
type jsonPath []any

func (p jsonPath) String() string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case string:
			b.WriteString("." + s)
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		}
	}
	return b.String()
}

// jsonPaths lists every value in v (objects, arrays and leaves) by path.
func jsonPaths(v any, at jsonPath, out map[string]jsonPath) {
	if len(at) > 0 {
		out[at.String()] = append(jsonPath{}, at...)
	}
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			jsonPaths(c, append(at, k), out)
		}
	case []any:
		for i, c := range t {
			jsonPaths(c, append(at, i), out)
		}
	}
}

// alter changes the value at p in root (in place): a leaf gets a
// different value of the same JSON type, with remove the value is taken
// out (object key deleted, array element dropped). It reports whether p
// exists in root.
func alter(root map[string]any, p jsonPath, remove bool) bool {
	var parent any = root
	for i, s := range p {
		last := i == len(p)-1
		switch par := parent.(type) {
		case map[string]any:
			k, ok := s.(string)
			if !ok {
				return false
			}
			c, ok := par[k]
			if !ok {
				return false
			}
			if last {
				if remove {
					delete(par, k)
				} else {
					par[k] = changed(c)
				}
				return true
			}
			parent = c
		case []any:
			j, ok := s.(int)
			if !ok || j >= len(par) {
				return false
			}
			if last {
				if remove {
					// Drop the element: the parent slice is re-set below
					// through the path, so rebuild it at its owner.
					return dropAt(root, p[:i], j)
				}
				par[j] = changed(par[j])
				return true
			}
			parent = par[j]
		default:
			return false
		}
	}
	return false
}

func dropAt(root map[string]any, owner jsonPath, j int) bool {
	var parent any = root
	for i, s := range owner {
		last := i == len(owner)-1
		switch par := parent.(type) {
		case map[string]any:
			if last {
				arr := par[s.(string)].([]any)
				par[s.(string)] = append(append([]any{}, arr[:j]...), arr[j+1:]...)
				return true
			}
			parent = par[s.(string)]
		case []any:
			if last {
				arr := par[s.(int)].([]any)
				par[s.(int)] = append(append([]any{}, arr[:j]...), arr[j+1:]...)
				return true
			}
			parent = par[s.(int)]
		}
	}
	return false
}

// changed is v with a different value of its JSON type: numbers +1,
// booleans negated, strings with their last character replaced (so a
// hash, signature, address or CID stays well-formed as often as not),
// null replaced by a short base64 string, and containers with their
// first leaf changed.
func changed(v any) any {
	switch t := v.(type) {
	case float64:
		return t + 1
	case bool:
		return !t
	case string:
		if t == "" {
			return "AA=="
		}
		r := []byte(t)
		if r[len(r)-1] == 'a' {
			r[len(r)-1] = 'b'
		} else {
			r[len(r)-1] = 'a'
		}
		return string(r)
	case nil:
		return "AA=="
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			return map[string]any{"x": 1}
		}
		t[keys[0]] = changed(t[keys[0]])
		return t
	case []any:
		if len(t) == 0 {
			return []any{"AA=="}
		}
		t[0] = changed(t[0])
		return t
	}
	return v
}

// recordingProxy serves base and keeps every JSON object answer by the
// request path's API prefix (/v1/blocks/, /v1/validators, …).
func recordingProxy(t *testing.T, base string) (string, func() map[string][]map[string]any) {
	t.Helper()
	target, _ := url.Parse(base)
	rp := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	seen := map[string][]map[string]any{}
	rp.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var m map[string]any
		if resp.StatusCode == 200 && json.Unmarshal(body, &m) == nil {
			mu.Lock()
			seen[apiPrefix(resp.Request.URL.Path)] = append(seen[apiPrefix(resp.Request.URL.Path)], m)
			mu.Unlock()
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func() map[string][]map[string]any {
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// apiPrefix is "/v1/<resource>" of an API path.
func apiPrefix(p string) string {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(parts) < 2 {
		return p
	}
	return "/" + parts[0] + "/" + parts[1]
}

// TestCLIShowsNothingAProxyAltered puts a proxy in front of a real node
// that alters one field of one kind of answer at a time — every field of
// every answer each query reads (blocks, validator sets, txs, accounts,
// module queries), each changed and each removed, none skipped — and
// requires every `dure query` either to fail (exit non-zero, nothing
// printed) or to print exactly what it prints through an honest proxy.
func TestCLIShowsNothingAProxyAltered(t *testing.T) {
	home, _ := initHome(t, "t-1")
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob := newKey(t).PubKey().Address()
	_, nonce, _ := balanceOf(t, tn.Base, tn.Key.PubKey().Address())
	res, err := tn.Client.Submit(ctx, sendTx(t, tn.ChainID, tn.Key, nonce, 10, bob, 1000), true)
	if err != nil || res.Result == nil || res.Result.Code != 0 {
		t.Fatalf("transfer: %+v %v", res, err)
	}
	queries := [][]string{
		{"query", "block", strconv.FormatUint(res.Height, 10)},
		{"query", "tx", res.ID.String()},
		{"query", "account", bob.String()},
		{"query", "validators"},
		{"query", "currency", "balances", "--arg", "address=" + bob.String()},
		{"query", "currency", "balance", "--arg", "address=" + bob.String(), "--arg", "denom=dure"},
	}
	total := 0
	for _, q := range queries {
		name := strings.Join(q[1:], " ")
		recProxy, recorded := recordingProxy(t, tn.Base)
		honest := func() string {
			t.Helper()
			code, out, errs := runCLI(append(q, "--home", home, "--node", recProxy)...)
			if code != ExitOK {
				t.Fatalf("%s through an honest proxy: exit %d\n%s\n%s", name, code, out, errs)
			}
			return out
		}
		baseline := honest()
		var prefixes []string
		for p := range recorded() {
			prefixes = append(prefixes, p)
		}
		sort.Strings(prefixes)
		for _, prefix := range prefixes {
			paths := map[string]jsonPath{}
			for _, m := range recorded()[prefix] {
				jsonPaths(m, nil, paths)
			}
			names := make([]string, 0, len(paths))
			for k := range paths {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, pn := range names {
				for _, remove := range []bool{false, true} {
					p, remove := paths[pn], remove
					what := fmt.Sprintf("%s: %s%s changed", name, prefix, pn)
					if remove {
						what = fmt.Sprintf("%s: %s%s removed", name, prefix, pn)
					}
					proxy := lyingProxy(t, tn.Base, prefix, func(m map[string]any) { alter(m, p, remove) })
					total++
					ok := false
					for range 3 {
						code, out, errs := runCLI(append(q, "--home", home, "--node", proxy)...)
						if code != ExitOK {
							if out != "" {
								t.Errorf("%s: exit %d but printed %s", what, code, out)
							}
							ok = true
							_ = errs
							break
						}
						if out == baseline {
							ok = true
							break
						}
						// The chain may have moved on (latest-height queries).
						fresh := honest()
						if fresh == baseline {
							t.Errorf("%s: printed what the proxy altered:\n%s\nhonest:\n%s", what, out, baseline)
							ok = true
							break
						}
						baseline = fresh
					}
					if !ok {
						t.Errorf("%s: no stable honest answer to compare with", what)
					}
				}
			}
		}
	}
	t.Logf("%d alterations across %d queries", total, len(queries))
	if total < 100 {
		t.Fatalf("only %d alterations tried", total)
	}
}

// forgingProxy serves base but replaces the chain from height from on: its
// blocks' state roots are changed, they are signed by forger alone, and
// /v1/validators names forger as the only validator, so every header it
// serves hashes right and carries a valid >2/3 commit of the set it
// reports. Only a client that carries the validator set forward from
// genesis can tell.
func forgingProxy(t *testing.T, base string, forger chain.PrivKey) string {
	t.Helper()
	codec := chain.MustCodec()
	fake, err := chain.NewValidatorSet([]chain.Validator{{Address: forger.PubKey().Address(), PubKey: forger.PubKey(), Power: 10}})
	if err != nil {
		t.Fatal(err)
	}
	return rewritingProxy(t, base, func(path string, status int) bool {
		return status == 200 && (strings.HasPrefix(path, "/v1/blocks/") || strings.HasPrefix(path, "/v1/validators"))
	}, func(path string, body []byte) ([]byte, error) {
		if strings.HasPrefix(path, "/v1/validators") {
			var v api.Validators
			if err := json.Unmarshal(body, &v); err != nil {
				return nil, err
			}
			v.Validators, v.Total, v.Staking = fake.Validators, fake.TotalPower(), nil
			body, _ = json.Marshal(v)
		} else {
			var b api.BlockInfo
			if err := json.Unmarshal(body, &b); err != nil {
				return nil, err
			}
			b.Header.StateRoot = chain.Hash{0xab}
			b.Header.ValidatorsHash, b.Header.NextValidatorsHash = fake.Hash(codec), fake.Hash(codec)
			b.ID = b.Header.ID(codec)
			sig := forger.Sign(chain.VoteSignBytes(codec, b.Header.ChainID, chain.Precommit, b.Header.Height, 0, b.ID))
			b.Commit = &chain.Commit{Height: b.Header.Height, BlockID: b.ID, Sigs: []chain.CommitSig{{Validator: forger.PubKey().Address(), Sig: sig}}}
			body, _ = json.Marshal(b)
		}
		return body, nil
	})
}

// TestLightClientCatchesForgedValidatorSet: a node that forges headers
// and the validator set that signs them passes the old check (the set the
// node reports, against the header's hash: what --trust-node still does),
// and is refused by the light client trusting the home's genesis, by one
// trusting a checkpoint, and as fork evidence when an honest witness is
// asked for the same height.
func TestLightClientCatchesForgedValidatorSet(t *testing.T) {
	home, _ := initHome(t, "t-1")
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := waitHeight(ctx, tn.Client, 3); err != nil {
		t.Fatal(err)
	}
	forger := newKey(t)
	liar := forgingProxy(t, tn.Base, forger)
	args := []string{"query", "block", "2", "--home", home}

	// The honest node verifies from genesis; the trusted state is kept.
	if code, out, errs := runCLI(append(args, "--node", tn.Cfg.API.ListenAddr)...); code != ExitOK || !strings.Contains(out, "light client") {
		t.Fatalf("honest node: exit %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(home, "light", "t-1.json")); err != nil {
		t.Fatalf("no trusted state in the home: %v", err)
	}
	// --trust-node believes the forger.
	code, out, errs := runCLI(append(args, "--node", liar, "--trust-node")...)
	if code != ExitOK || !strings.Contains(out, "--trust-node") || !strings.Contains(out, "ab00000000") {
		t.Fatalf("--trust-node against the forger: exit %d, want 0 with the forged root\n%s\n%s", code, out, errs)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"trusted state from genesis, forward", []string{"query", "block", "latest"}, "verification failed"},
		{"trusted state from genesis, backward", []string{"query", "block", "1"}, "verification failed"},
		{"account at the forged header", []string{"query", "account", tn.Key.PubKey().Address().String()}, "verification failed"},
		{"validators", []string{"query", "validators"}, "verification failed"},
	} {
		code, out, errs := runCLI(append(c.args, "--home", home, "--node", liar)...)
		if code != ExitError || !strings.Contains(errs, c.want) || out != "" {
			t.Errorf("%s against the forger: exit %d, want %d with %q\n%s\n%s", c.name, code, ExitError, c.want, out, errs)
		}
	}
	// A fresh home trusting a checkpoint got out of band.
	blk, err := tn.Client.Block(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	fresh := t.TempDir()
	cp := fmt.Sprintf("2:%s", blk.ID)
	if code, _, errs := runCLI("query", "block", "latest", "--home", fresh, "--node", liar, "--trust-checkpoint", cp); code != ExitError || !strings.Contains(errs, "verification failed") {
		t.Errorf("checkpoint against the forger: exit %d\n%s", code, errs)
	}
	if code, out, errs := runCLI("query", "block", "latest", "--home", fresh, "--node", tn.Cfg.API.ListenAddr, "--trust-checkpoint", cp); code != ExitOK {
		t.Errorf("checkpoint against the honest node: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := runCLI("query", "block", "latest", "--home", t.TempDir(), "--node", tn.Cfg.API.ListenAddr); code != ExitUsage || !strings.Contains(errs, "no genesis") {
		t.Errorf("no genesis, no checkpoint: exit %d, want %d\n%s", code, ExitUsage, errs)
	}
	if code, _, errs := runCLI("query", "block", "latest", "--home", t.TempDir(), "--node", tn.Cfg.API.ListenAddr, "--trust-checkpoint", "x"); code != ExitUsage {
		t.Errorf("bad checkpoint: exit %d, want %d\n%s", code, ExitUsage, errs)
	}

	// Far below the trusted height a header is verified forward from the
	// genesis again (not by maxBackSteps+ parent links); a forger still fails.
	if err := waitHeight(ctx, tn.Client, 2+maxBackSteps+4); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCLI("query", "block", "latest", "--home", home, "--node", tn.Cfg.API.ListenAddr); code != ExitOK {
		t.Fatalf("latest: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runCLI("query", "block", "2", "--home", home, "--node", tn.Cfg.API.ListenAddr); code != ExitOK || !strings.Contains(out, blk.ID.String()) {
		t.Errorf("block 2 far below the trusted height: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runCLI("query", "block", "2", "--home", home, "--node", liar); code != ExitError || out != "" {
		t.Errorf("block 2 far below the trusted height, from the forger: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestCLICatchesAListThatLeavesOut: bob holds two currencies. A node that
// answers his balances (the module query and the account endpoint) with
// one left out, one added, or the list cut short — each time with the
// proofs a liar can assemble from honest ones — is caught by the
// next-key records, and the honest answer says the list is complete.
func TestCLICatchesAListThatLeavesOut(t *testing.T) {
	home, _ := initHome(t, "t-1")
	tn := startNode(t, home)
	bob := newKey(t).PubKey().Address().String()
	common := []string{"--home", home, "--keyring-backend", "test", "--node", tn.Cfg.API.ListenAddr}
	for _, args := range [][]string{
		{"tx", "currency", "send", "--from", "validator", "--to", bob, "--amount", "1000"},
		{"tx", "currency", "create", "--from", "validator", "--denom", "nw", "--expiry", "26280h", "--hourly-rate", "700"},
		{"tx", "currency", "confirm-hours", "--from", "validator", "--denom", "nw", "--volunteer", bob, "--hours", "2"},
	} {
		if code, out, errs := runCLI(append(args, common...)...); code != ExitOK {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errs)
		}
	}
	queries := []struct {
		name, prefix, list string // API path prefix, JSON field of the list
		args               []string
	}{
		{"query currency balances", "/v1/query/currency/balances", "result", []string{"query", "currency", "balances", bob}},
		{"query account", "/v1/accounts/", "balances", []string{"query", "account", bob}},
	}
	b64 := func(s string) []byte { b, _ := base64.StdEncoding.DecodeString(s); return b }
	proofs := func(m map[string]any) []any { p, _ := m["proofs"].([]any); return p }
	keyOf := func(p any) []byte { k, _ := p.(map[string]any)["key"].(string); return b64(k) }
	bobAddr, err := chain.ParseAddress(bob)
	if err != nil {
		t.Fatal(err)
	}
	// bobBal is the state key of bob's balance of denom (currency's
	// "b/" + address + denom).
	bobBal := func(denom string) []byte { return append(append([]byte("currency/b/"), bobAddr[:]...), denom...) }
	// nwKey: the state key of bob's nw balance, or its next-key record.
	nwKey := func(k []byte) bool {
		if of, ok := state.IsLinkKey(k); ok {
			k = of
		}
		return bytes.Equal(k, bobBal("nw"))
	}
	dropEntry := func(list string, dropProofs func(k []byte) bool) func(map[string]any) {
		return func(m map[string]any) {
			var kept []any
			for _, e := range m[list].([]any) {
				if e.(map[string]any)["denom"] != "nw" {
					kept = append(kept, e)
				}
			}
			m[list] = kept
			var ps []any
			for _, p := range proofs(m) {
				if !dropProofs(keyOf(p)) {
					ps = append(ps, p)
				}
			}
			m["proofs"] = ps
		}
	}
	for _, q := range queries {
		args := append(q.args, "--home", home, "--node", tn.Cfg.API.ListenAddr)
		code, out, errs := runCLI(args...)
		if code != ExitOK || !strings.Contains(out, `"nw"`) || !strings.Contains(out, "proven complete by next-key records") {
			t.Fatalf("%s, honest: exit %d\n%s\n%s", q.name, code, out, errs)
		}
		const differs, unproven, forged = "differs from the query recomputed|not the proven ones", "state: not proven: value of", "merkle proof does not verify"
		for _, lie := range []struct {
			name string
			why  string // what the CLI must say (a regexp)
			edit func(map[string]any)
		}{
			{"drop an entry, keep the proofs", differs, dropEntry(q.list, func([]byte) bool { return false })},
			{"drop an entry and its value proof", unproven, dropEntry(q.list, func(k []byte) bool { _, link := state.IsLinkKey(k); return nwKey(k) && !link })},
			{"drop an entry, its value proof and its record", unproven, dropEntry(q.list, nwKey)},
			{"add an entry with a borrowed proof", forged, func(m map[string]any) {
				l := m[q.list].([]any)
				m[q.list] = append(l, map[string]any{"address": bob, "denom": "zz", "amount": "5", "lots": []any{}})
				for _, p := range proofs(m) {
					pm := p.(map[string]any)
					if k := keyOf(p); nwKey(k) {
						if _, link := state.IsLinkKey(k); !link {
							fake := bobBal("zz")
							m["proofs"] = append(proofs(m), map[string]any{"key": base64.StdEncoding.EncodeToString(fake), "value": pm["value"], "proof": pm["proof"]})
							break
						}
					}
				}
			}},
			{"cut the list short (the count): the record before nw says none follows", forged, func(m map[string]any) {
				dropEntry(q.list, func(k []byte) bool { _, link := state.IsLinkKey(k); return nwKey(k) && !link })(m)
				for _, p := range proofs(m) {
					pm := p.(map[string]any)
					if _, link := state.IsLinkKey(keyOf(p)); link {
						if v, _ := pm["value"].(string); nwKey(b64(v)) {
							pm["value"] = base64.StdEncoding.EncodeToString(state.LinkValue(nil))
						}
					}
				}
			}},
			{"claim the chain has no index (head record absent)", forged, func(m map[string]any) {
				dropEntry(q.list, nwKey)(m)
				var ps []any
				for _, p := range proofs(m) {
					if _, link := state.IsLinkKey(keyOf(p)); !link {
						ps = append(ps, p)
					}
				}
				ps = append(ps, map[string]any{"key": base64.StdEncoding.EncodeToString(state.LinkKey(nil)), "value": nil, "proof": ps[0].(map[string]any)["proof"]})
				m["proofs"] = ps
			}},
		} {
			liar := lyingProxy(t, tn.Base, q.prefix, lie.edit)
			code, out, errs := runCLI(append(q.args, "--home", home, "--node", liar)...)
			if code != ExitError || out != "" || !strings.Contains(errs, "verification failed") || !regexp.MustCompile(lie.why).MatchString(errs) {
				t.Errorf("%s, %s: exit %d, want %d, nothing printed and %q\n%s\n%s", q.name, lie.name, code, ExitError, lie.why, out, errs)
			}
		}
	}
}

// TestListsOnAChainWithoutRangeProofs: a chain whose genesis predates
// range proofs (no range_proofs in its params) keeps running, its lists
// are still recomputed from proven values, and the CLI says plainly that
// their completeness is not proven; a node cannot make an indexed chain's
// list look like that (TestCLICatchesAListThatLeavesOut, "claim the chain
// has no index").
func TestListsOnAChainWithoutRangeProofs(t *testing.T) {
	home, cfg := initHome(t, "t-1")
	gen, err := genesis.Load(cfg.GenesisPath())
	if err != nil {
		t.Fatal(err)
	}
	gen.Params.RangeProofs = false
	if err := gen.Write(cfg.GenesisPath()); err != nil {
		t.Fatal(err)
	}
	tn := startNode(t, home)
	addr := tn.Key.PubKey().Address().String()
	for _, q := range [][]string{{"query", "currency", "balances", addr}, {"query", "account", addr}} {
		code, out, errs := runCLI(append(q, "--home", home, "--node", tn.Cfg.API.ListenAddr)...)
		if code != ExitOK || !strings.Contains(out, "list completeness NOT proven") || !strings.Contains(out, `"dure"`) {
			t.Errorf("%v on a chain without range proofs: exit %d\n%s\n%s", q, code, out, errs)
		}
	}
}
