package nodetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
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

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no earlier call in this process returned. It draws from 10000–19999:
// below the kernel's ephemeral range (where every tcp/0 listener and
// outgoing connection of the other test packages lands) and the testnet
// package's 20000–31999. A port handed out once stays reserved for the
// process, so a node stopped for a restart cannot lose its port to the next
// test's node; a stranger on the port is caught by the harnesses' waits
// (testnet.ErrExited), not mistaken for the node.
func FreePort(t testing.TB) int {
	t.Helper()
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.given == nil {
		ports.given = map[int]bool{}
	}
	for range 1000 {
		port := 10000 + rand.IntN(10000)
		if ports.given[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		ports.given[port] = true
		return port
	}
	t.Fatal("no free port in 10000-19999")
	return 0
}

// ports are FreePort's reservations for this process.
var ports struct {
	mu    sync.Mutex
	given map[int]bool
}

// LoopbackConfig loads home's config.toml (as init wrote it), points it at
// loopback only (a free API port, an ephemeral p2p port, no
// DHT/NAT/relay/hole punching, a short heartbeat), writes it back and
// returns it reloaded.
func LoopbackConfig(t testing.TB, home string) config.Config {
	t.Helper()
	path := filepath.Join(home, config.FileName)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load config written by init: %v", err)
	}
	cfg.API.ListenAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
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
	return cfg
}

// LockedBuffer is a log sink shared by the node's goroutines.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Runner is what an OpenFunc returns: a node that runs until ctx ends.
type Runner interface {
	Run(ctx context.Context) error
}

// OpenFunc opens the node of cfg with key as its validator key and returns
// it with its chain id.
type OpenFunc func(ctx context.Context, cfg config.Config, log *slog.Logger, key chain.PrivKey) (Runner, string, error)

// Node is an in-process single-validator node.
type Node struct {
	Home    string
	Cfg     config.Config
	ChainID string
	Base    string // http://127.0.0.1:port
	Client  *api.Client
	Key     chain.PrivKey // the validator key, funded at genesis
	Keys    *keystore.Keystore
	Log     *LockedBuffer
	Stop    func()
}

// Start opens home's node with open and runs it until the test ends (or
// Stop). It returns once the first block is committed.
func Start(t testing.TB, home string, open OpenFunc) *Node {
	t.Helper()
	cfg, err := config.Load(filepath.Join(home, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ks, key := ValidatorKey(t, cfg)
	logs := &LockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	n, chainID, err := open(ctx, cfg, logger, key)
	if err != nil {
		cancel()
		t.Fatalf("Open: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	tn := &Node{Home: home, Cfg: cfg, ChainID: chainID, Base: "http://" + cfg.API.ListenAddr,
		Client: api.NewClient(cfg.API.ListenAddr), Key: key, Keys: ks, Log: logs}
	var once sync.Once
	tn.Stop = func() {
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
		tn.Stop()
		if t.Failed() {
			t.Logf("node log (tail):\n%s", Tail(logs.String(), 60))
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := WaitHeight(wctx, tn.Client, 1); err != nil {
		select {
		case err := <-done:
			t.Fatalf("node exited before its first block: %v\n%s", err, Tail(logs.String(), 40))
		default:
		}
		t.Fatalf("no first block: %v\n%s", err, Tail(logs.String(), 40))
	}
	return tn
}

// ValidatorKey opens the test keyring of cfg's home and returns it with
// the validator key (cfg.PrivValidatorKey).
func ValidatorKey(t testing.TB, cfg config.Config) (*keystore.Keystore, chain.PrivKey) {
	t.Helper()
	ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ks.Signer(cfg.PrivValidatorKey)
	if err != nil {
		t.Fatal(err)
	}
	return ks, key
}

// Tail returns the last lines lines of s.
func Tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// WaitHeight polls /v1/status until the node reaches h.
func WaitHeight(ctx context.Context, cl *api.Client, h uint64) error {
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

// SendTx builds and signs a one-message currency send of amount denom.
func SendTx(t testing.TB, chainID string, key chain.PrivKey, nonce, fee uint64, to chain.Address, denom string, amount uint64) []byte {
	t.Helper()
	codec := chain.MustCodec()
	m, err := currency.MsgSend(codec, to, denom, amount)
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

// NewKey makes a fresh random key.
func NewKey(t testing.TB) chain.PrivKey {
	t.Helper()
	k, err := chain.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// BalanceOf reads addr's balance of denom, its nonce and the height they
// are at from the API at base.
func BalanceOf(t testing.TB, base, denom string, addr chain.Address) (bal, nonce, height uint64) {
	t.Helper()
	var acct struct {
		Height   uint64 `json:"height"`
		Nonce    uint64 `json:"nonce"`
		Balances []struct {
			Denom  string          `json:"denom"`
			Amount currency.Amount `json:"amount"`
		} `json:"balances"`
	}
	if code := GetJSON(t, base+"/v1/accounts/"+addr.String(), &acct); code != http.StatusOK {
		t.Fatalf("GET account %s: status %d", addr, code)
	}
	for _, b := range acct.Balances {
		if b.Denom == denom {
			bal = uint64(b.Amount)
		}
	}
	return bal, acct.Nonce, acct.Height
}

// GetJSON GETs url, decodes the JSON body into out (unless nil) and
// returns the status.
func GetJSON(t testing.TB, url string, out any) int {
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

// MustExist fails the test unless path exists.
func MustExist(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// CheckSnake fails the test for any JSON object key in v (as decoded into
// any) that is not snake_case; where names v in the message.
func CheckSnake(t testing.TB, where string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !snakeKey.MatchString(k) {
				t.Errorf("%s: key %q is not snake_case", where, k)
			}
			CheckSnake(t, where+"."+k, e)
		}
	case []any:
		for _, e := range x {
			CheckSnake(t, where, e)
		}
	}
}
