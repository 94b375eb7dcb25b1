package nattest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dure-network/dure/p2p/nattest"
)

var (
	buildOnce sync.Once
	dureBin   string
	buildErr  error
)

// dure builds the dure binary once per test run (or takes $DURE_NATTEST_BIN).
func dure(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("DURE_NATTEST_BIN"); b != "" {
		return b
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dure-nattest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		dureBin = filepath.Join(dir, "dure")
		out, err := exec.Command("go", "build", "-o", dureBin, "github.com/dure-network/dure").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return dureBin
}

// dureNode is a `dure start` child in a namespace.
type dureNode struct {
	t    *testing.T
	bin  string
	h    *nattest.Host
	home string
	p    *nattest.Proc
	log  *bytes.Buffer
	mu   *sync.Mutex
}

// initHome runs `dure init` for chainID in a fresh home and applies edit
// to its config.toml.
func initHome(t *testing.T, bin, chainID string, edit func(string) string) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	out, err := exec.Command(bin, "init", "--chain-id", chainID, "--keyring-backend", "test", "--home", home).CombinedOutput()
	if err != nil {
		t.Fatalf("dure init: %v\n%s", err, out)
	}
	path := filepath.Join(home, "config.toml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(edit(string(b))), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

func setKey(cfg, key, value string) string {
	lines := strings.Split(cfg, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, key+" = ") {
			lines[i] = key + " = " + value
			return strings.Join(lines, "\n")
		}
	}
	panic("config.toml has no " + key)
}

type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func startDure(t *testing.T, bin string, h *nattest.Host, home string) *dureNode {
	t.Helper()
	d := &dureNode{t: t, bin: bin, h: h, home: home, log: new(bytes.Buffer), mu: new(sync.Mutex)}
	d.p = h.Command(bin, "start", "--home", home)
	d.p.Cmd.Stderr = syncWriter{d.mu, d.log}
	if err := d.p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.p.Stop(5 * time.Second)
		if t.Failed() {
			d.mu.Lock()
			lines := strings.Split(strings.TrimSpace(d.log.String()), "\n")
			d.mu.Unlock()
			lines = slices.DeleteFunc(lines, func(l string) bool { return strings.Contains(l, `msg="committed block"`) })
			t.Logf("%s log without block commits, last lines:\n%s", h.Name, strings.Join(lines[max(0, len(lines)-25):], "\n"))
		}
	})
	return d
}

type dureStatus struct {
	PeerID      string   `json:"peer_id"`
	ListenAddrs []string `json:"listen_addrs"`
	Height      uint64   `json:"height"`
	Syncing     bool     `json:"syncing"`
	Peers       int      `json:"peers"`
	P2P         struct {
		Reachability struct {
			AutoNAT   string   `json:"autonat"`
			Reachable []string `json:"reachable"`
		} `json:"reachability"`
	} `json:"p2p"`
}

// status asks the node's API, from inside its namespace.
func (d *dureNode) status(ctx context.Context) (dureStatus, error) {
	var st dureStatus
	out, err := d.h.Exec(ctx, d.bin, "status", "--home", d.home)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("status of %s: %w", d.h.Name, err)
	}
	return st, nil
}

func (d *dureNode) waitStatus(ctx context.Context, what string, cond func(dureStatus) bool) dureStatus {
	d.t.Helper()
	var last dureStatus
	var lastErr error
	for {
		st, err := d.status(ctx)
		if err == nil && cond(st) {
			return st
		}
		last, lastErr = st, err
		select {
		case <-d.p.Done():
			d.t.Fatalf("%s exited waiting for %s: %v", d.h.Name, what, d.p.Err())
		case <-ctx.Done():
			d.t.Fatalf("%s: %s: %v; last status %+v (%v)", d.h.Name, what, ctx.Err(), last, lastErr)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// TestHomeNodeFollowsChain: the chain's only validator runs on the public
// segment; a volunteer's node at home, behind a NAT with no port
// forwarded and only the validator's address in bootstrap_peers, syncs the
// chain's history and then follows new blocks by gossip. Real dure
// processes, talked to only through `dure status` run in their namespace.
func TestHomeNodeFollowsChain(t *testing.T) {
	t.Parallel()
	bed := nattest.New(t)
	bin := dure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const chain = "nat-home-1"
	fast := func(c string) string { return setKey(c, "heartbeat_interval", "'300ms'") }
	relay := func(c string) string { return setKey(fast(c), "enable_relay_service", "true") }

	seedHost := bed.PublicHost("seed")
	seedHome := initHome(t, bin, chain, relay)
	seed := startDure(t, bin, seedHost, seedHome)
	st := seed.waitStatus(ctx, "height 10", func(s dureStatus) bool { return s.Height >= 10 })
	boot := fmt.Sprintf("['/ip4/%s/tcp/26656/p2p/%s', '/ip4/%s/udp/26656/quic-v1/p2p/%s']", seedHost.IP, st.PeerID, seedHost.IP, st.PeerID)

	router := bed.Router("rhome", nattest.Cone)
	homeHost := router.Host("home")
	homeHome := initHome(t, bin, chain, func(c string) string { return setKey(fast(c), "bootstrap_peers", boot) })
	gen, err := os.ReadFile(filepath.Join(seedHome, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(homeHome, "genesis.json"), gen, 0o600); err != nil {
		t.Fatal(err)
	}
	seedAt, _ := seed.status(ctx)
	started := time.Now()
	home := startDure(t, bin, homeHost, homeHome)
	caught := home.waitStatus(ctx, fmt.Sprintf("sync to height %d", seedAt.Height), func(s dureStatus) bool {
		return !s.Syncing && s.Height >= seedAt.Height && s.Peers >= 1
	})
	t.Logf("home node behind %s NAT at height %d (the seed was at %d when it started) after %v", router.NAT, caught.Height, seedAt.Height, time.Since(started).Round(10*time.Millisecond))
	follow := home.waitStatus(ctx, "follow 5 more blocks", func(s dureStatus) bool { return s.Height >= caught.Height+5 })
	now, err := seed.status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if now.Height > follow.Height+3 {
		t.Errorf("home at %d fell behind the seed at %d", follow.Height, now.Height)
	}
	t.Logf("home follows: height %d, seed %d, %v after start", follow.Height, now.Height, time.Since(started).Round(10*time.Millisecond))

	// AutoNAT (answered by the seed's relay service) finds the home node
	// private, and it takes a relay reservation on the seed.
	circuit := "/ip4/" + seedHost.IP + "/tcp/26656/p2p/" + st.PeerID + "/p2p-circuit"
	hs := home.waitStatus(ctx, "AutoNAT private and a relay address", func(s dureStatus) bool {
		if s.P2P.Reachability.AutoNAT != "private" {
			return false
		}
		for _, a := range s.ListenAddrs {
			if strings.HasPrefix(a, circuit) {
				return true
			}
		}
		return false
	})
	t.Logf("home: AutoNAT %s, relay address %s…, %v after start", hs.P2P.Reachability.AutoNAT, circuit, time.Since(started).Round(100*time.Millisecond))
	ss, _ := seed.status(ctx)
	t.Logf("seed: AutoNAT %s, v2 reachable %v", ss.P2P.Reachability.AutoNAT, ss.P2P.Reachability.Reachable)
}
