package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/keystore"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// initHome makes a node home as `dure init --keyring-backend test` does
// (node/cli: config defaults, a "validator" key, a genesis with it as the
// only validator), then points it at loopback only: a free API port, an
// ephemeral p2p port, no DHT/NAT/relay/hole punching, and a short heartbeat.
func initHome(t testing.TB, chainID string) (string, config.Config) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	cfg := config.Default(home)
	cfg.Keyring.Backend = string(keystore.BackendTest)
	cfg.PrivValidatorKey = "validator"
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ks.Add(cfg.PrivValidatorKey)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := BuildGenesis(chainID, time.Now(), []GenesisValidator{{PubKey: info.PubKey, Stake: DefaultValidatorStake}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.Write(cfg.GenesisPath()); err != nil {
		t.Fatal(err)
	}
	if err := config.Write(filepath.Join(home, config.FileName), cfg); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(home, config.FileName)
	cfg, err = config.Load(path)
	if err != nil {
		t.Fatalf("load config written as init does: %v", err)
	}
	cfg.API.ListenAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.P2P.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.P2P.EnableDHT, cfg.P2P.EnableMDNS, cfg.P2P.EnableNATPortMap = false, false, false
	cfg.P2P.EnableHolePunching, cfg.P2P.EnableRelay = false, false
	cfg.Consensus.HeartbeatInterval = "300ms"
	if err := config.Write(path, cfg); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load(path)
	if err != nil {
		t.Fatalf("reload adjusted config: %v", err)
	}
	return home, cfg
}

// lockedBuffer is a log sink shared by the node's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testNode is an in-process single-validator node.
type testNode struct {
	home    string
	cfg     config.Config
	chainID string
	base    string // http://127.0.0.1:port
	cl      *api.Client
	key     chain.PrivKey // the validator key, funded at genesis
	keys    *keystore.Keystore
	log     *lockedBuffer
	stop    func()
}

// startNode opens home's node and runs it until the test ends. It returns
// once the first block is committed.
func startNode(t testing.TB, home string) *testNode {
	t.Helper()
	cfg, err := config.Load(filepath.Join(home, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ks.Signer(cfg.PrivValidatorKey)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Open(ctx, cfg, logger, key)
	if err != nil {
		cancel()
		t.Fatalf("Open: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	tn := &testNode{home: home, cfg: cfg, chainID: n.gen.ChainID, base: "http://" + cfg.API.ListenAddr,
		cl: api.NewClient(cfg.API.ListenAddr), key: key, keys: ks, log: logs}
	var once sync.Once
	tn.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("node Run returned %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("node did not stop within 20s")
			}
		})
	}
	t.Cleanup(func() {
		tn.stop()
		if t.Failed() {
			t.Logf("node log (tail):\n%s", tail(logs.String(), 60))
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := waitHeight(wctx, tn.cl, 1); err != nil {
		select {
		case err := <-done:
			t.Fatalf("node exited before its first block: %v\n%s", err, tail(logs.String(), 40))
		default:
		}
		t.Fatalf("no first block: %v\n%s", err, tail(logs.String(), 40))
	}
	return tn
}

func tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// waitHeight polls /v1/status until the node reaches h.
func waitHeight(ctx context.Context, cl *api.Client, h uint64) error {
	var last error
	for {
		st, err := cl.Status(ctx)
		if err == nil && st.Height >= h {
			return nil
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("at height %d", st.Height)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for height %d: %w (last: %v)", h, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sendTx builds and signs a one-message currency send.
func sendTx(t testing.TB, chainID string, key chain.PrivKey, nonce, fee uint64, to chain.Address, amount uint64) []byte {
	t.Helper()
	codec := chain.MustCodec()
	m, err := currency.MsgSend(codec, to, NativeDenom, amount)
	if err != nil {
		t.Fatal(err)
	}
	tx := chain.Tx{ChainID: chainID, Nonce: nonce, MaxFee: fee, Msgs: []chain.Msg{m}}
	raw, err := tx.Sign(codec, key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// newKey makes a fresh random key and returns it with its address.
func newKey(t testing.TB) chain.PrivKey {
	t.Helper()
	k, err := chain.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// balanceOf reads addr's native balance, nonce and the height they are at.
func balanceOf(t testing.TB, base string, addr chain.Address) (bal, nonce, height uint64) {
	t.Helper()
	var acct struct {
		Height   uint64 `json:"height"`
		Nonce    uint64 `json:"nonce"`
		Balances []struct {
			Denom  string          `json:"denom"`
			Amount currency.Amount `json:"amount"`
		} `json:"balances"`
	}
	if code := getJSON(t, base+"/v1/accounts/"+addr.String(), &acct); code != http.StatusOK {
		t.Fatalf("GET account %s: status %d", addr, code)
	}
	for _, b := range acct.Balances {
		if b.Denom == NativeDenom {
			bal = uint64(b.Amount)
		}
	}
	return bal, acct.Nonce, acct.Height
}

// getJSON GETs url, decodes the JSON body into out and returns the status.
func getJSON(t testing.TB, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: status %d, body %q: %v", url, resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode
}

// errCode returns the API error's status and stable code, or fails.
func errCode(t testing.TB, err error) (int, string) {
	t.Helper()
	var ae *api.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error, got %v", err)
	}
	return ae.Status, ae.Code
}

func mustExist(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// verifyHeaderTrustingNode checks that the header at height was committed
// by more than 2/3 of the validator set the node reports for that height
// (checked only against the header's hash), as `dure query --trust-node`
// does (node/cli), and returns it.
func verifyHeaderTrustingNode(ctx context.Context, cl *api.Client, height uint64) (chain.Header, *chain.Commit, error) {
	blk, err := cl.Block(ctx, height)
	if err != nil {
		return chain.Header{}, nil, err
	}
	codec := chain.MustCodec()
	if blk.Header.Height != height {
		return chain.Header{}, nil, fmt.Errorf("asked for block %d, got %d", height, blk.Header.Height)
	}
	vals, err := cl.Validators(ctx, height)
	if err != nil {
		return chain.Header{}, nil, err
	}
	vs, err := chain.NewValidatorSet(vals.Validators)
	if err != nil {
		return chain.Header{}, nil, err
	}
	if vs.Hash(codec) != blk.Header.ValidatorsHash {
		return chain.Header{}, nil, fmt.Errorf("block %d: validator set does not match the header's validators hash", height)
	}
	if err := chain.VerifyCommit(codec, blk.Header.ChainID, vs, blk.Commit, height, blk.Header.ID(codec)); err != nil {
		return chain.Header{}, nil, fmt.Errorf("block %d: %w", height, err)
	}
	return blk.Header, blk.Commit, nil
}

// The dure process's exit codes (node/cli's ExitUsage and so on), which
// the process tests compare.
const (
	ExitOK       = 0
	ExitError    = 1
	ExitUsage    = 2
	ExitDiskFull = 5
)

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// checkSnake fails the test for any JSON object key in v that is not
// snake_case.
func checkSnake(t *testing.T, where string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !snakeKey.MatchString(k) {
				t.Errorf("%s: key %q is not snake_case", where, k)
			}
			checkSnake(t, where+"."+k, e)
		}
	case []any:
		for _, e := range x {
			checkSnake(t, where, e)
		}
	}
}

func must(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// stoppedHome makes a single-validator home that has committed a few
// blocks and was stopped cleanly.
func stoppedHome(t *testing.T, bin, chainID string) string {
	t.Helper()
	home, cfg := initHome(t, chainID)
	p := newProc(bin, home, cfg)
	t.Cleanup(func() { _ = p.Kill() })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := waitHeight(ctx, p.Client, 3); err != nil {
		t.Fatalf("%v\n%s", err, procLog(home))
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exited(); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	return home
}
