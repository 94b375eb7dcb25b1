package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/node"
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

// runCLI runs the CLI in-process and returns exit code, stdout, stderr.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// initHome makes a node home the way `dure init --keyring-backend test`
// does, then points it at loopback only: a free API port, an ephemeral p2p
// port, no DHT/NAT/relay/hole punching, and a short heartbeat.
func initHome(t testing.TB, chainID string) (string, config.Config) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	code, out, errs := runCLI("init", "--chain-id", chainID, "--home", home, "--keyring-backend", "test")
	if code != ExitOK {
		t.Fatalf("init: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	path := filepath.Join(home, config.FileName)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load config written by init: %v", err)
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

// startNode opens home's node with node.Open (as dure start does) and runs
// it until the test ends. It returns once the first block is committed.
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
	gen, err := genesis.Load(cfg.GenesisPath())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	n, err := node.Open(ctx, cfg, logger, key)
	if err != nil {
		cancel()
		t.Fatalf("Open: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	tn := &testNode{home: home, cfg: cfg, chainID: gen.ChainID, base: "http://" + cfg.API.ListenAddr,
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
	m, err := currency.MsgSend(codec, to, node.NativeDenom, amount)
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
		if b.Denom == node.NativeDenom {
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

func mustExist(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
