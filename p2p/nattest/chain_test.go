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
	Validator   *struct {
		Power uint64 `json:"power"`
	} `json:"validator"`
	P2P struct {
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

	// dure doctor, run at home, says the same to the volunteer.
	doc, err := homeHost.Exec(ctx, bin, "doctor", "--home", homeHome)
	if err != nil {
		t.Fatalf("dure doctor: %v", err)
	}
	if !strings.Contains(doc, "behind NAT, reachable through a relay") || !strings.Contains(doc, "peers") {
		t.Errorf("dure doctor at home does not report the relay:\n%s", doc)
	}
	t.Logf("dure doctor at home:\n%s", doc)
}

// TestHomeValidatorSignsBlocks: a chain of two validators of equal power,
// one on the public segment (with the relay service) and one at home
// behind a cone NAT that dials out to it. A block needs more than 2/3 of
// the power, so every block the chain makes carries the home validator's
// precommit.
func TestHomeValidatorSignsBlocks(t *testing.T) {
	t.Parallel()
	bed := nattest.New(t)
	bin := dure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "net")
	if out, err := exec.Command(bin, "testnet", "--generate-only", "--dir", dir, "--validators", "2", "--chain-id", "nat-val-1", "--heartbeat", "300ms").CombinedOutput(); err != nil {
		t.Fatalf("dure testnet --generate-only: %v\n%s", err, out)
	}
	var man struct {
		Nodes []struct {
			PeerID string `json:"peer_id"`
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "testnet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &man); err != nil || len(man.Nodes) != 2 {
		t.Fatalf("testnet.json: %v (%d nodes)", err, len(man.Nodes))
	}
	seedHost := bed.PublicHost("vseed")
	homeHost := bed.Router("rval", nattest.Cone).Host("vhome")
	edit := func(home string, f func(string) string) {
		path := filepath.Join(home, "config.toml")
		c, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := setKey(string(c), "listen_addrs", "['/ip4/0.0.0.0/tcp/26656', '/ip4/0.0.0.0/udp/26656/quic-v1']")
		s = setKey(s, "listen_addr", "'127.0.0.1:26657'")
		if err := os.WriteFile(path, []byte(f(s)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	seedHome, homeHome := filepath.Join(dir, "node0"), filepath.Join(dir, "node1")
	edit(seedHome, func(s string) string {
		return setKey(setKey(s, "bootstrap_peers", "[]"), "enable_relay_service", "true")
	})
	edit(homeHome, func(s string) string {
		// The generated testnet turns discovery and NAT off; a home node has the defaults.
		for _, k := range []string{"enable_dht", "enable_nat_port_map", "enable_hole_punching", "enable_relay"} {
			s = setKey(s, k, "true")
		}
		return setKey(s, "bootstrap_peers", fmt.Sprintf("['/ip4/%s/tcp/26656/p2p/%s', '/ip4/%s/udp/26656/quic-v1/p2p/%s']",
			seedHost.IP, man.Nodes[0].PeerID, seedHost.IP, man.Nodes[0].PeerID))
	})
	started := time.Now()
	seed := startDure(t, bin, seedHost, seedHome)
	home := startDure(t, bin, homeHost, homeHome)
	var powers [2]uint64
	for i, d := range []*dureNode{seed, home} {
		st := d.waitStatus(ctx, "height 10", func(s dureStatus) bool { return s.Height >= 10 })
		if st.Validator == nil || st.Validator.Power == 0 {
			t.Fatalf("%s is not a validator: %+v", d.h.Name, st.Validator)
		}
		powers[i] = st.Validator.Power
	}
	if powers[0] != powers[1] {
		t.Fatalf("validator powers %v: want equal, so that no block commits without the home validator", powers)
	}
	t.Logf("two validators of power %d each, one behind NAT: height 10 after %v; every block needed the home validator's precommit",
		powers[0], time.Since(started).Round(10*time.Millisecond))
}

// TestHomeNodeFootprint (DURE_NATTEST_FOOTPRINT=1, about 80 s): a home node
// with the default config.toml (10 s heartbeat, DHT, QUIC, relay client,
// hole punching) follows a public validator from behind NAT; after a
// minute to settle, its CPU time and RSS are read from /proc over 30 s.
func TestHomeNodeFootprint(t *testing.T) {
	if os.Getenv("DURE_NATTEST_FOOTPRINT") == "" {
		t.Skip("set DURE_NATTEST_FOOTPRINT=1 to measure a home node's idle footprint (about 80 s)")
	}
	bed := nattest.New(t)
	bin := dure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const chain = "nat-foot-1"
	seedHost := bed.PublicHost("fseed")
	seedHome := initHome(t, bin, chain, func(c string) string { return setKey(c, "enable_relay_service", "true") })
	seed := startDure(t, bin, seedHost, seedHome)
	st := seed.waitStatus(ctx, "height 1", func(s dureStatus) bool { return s.Height >= 1 })
	boot := fmt.Sprintf("['/ip4/%s/tcp/26656/p2p/%s', '/ip4/%s/udp/26656/quic-v1/p2p/%s']", seedHost.IP, st.PeerID, seedHost.IP, st.PeerID)
	homeHost := bed.Router("rfoot", nattest.Cone).Host("fhome")
	homeHome := initHome(t, bin, chain, func(c string) string { return setKey(c, "bootstrap_peers", boot) })
	gen, err := os.ReadFile(filepath.Join(seedHome, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(homeHome, "genesis.json"), gen, 0o600); err != nil {
		t.Fatal(err)
	}
	home := startDure(t, bin, homeHost, homeHome)
	home.waitStatus(ctx, "synced", func(s dureStatus) bool { return !s.Syncing && s.Peers >= 1 && s.Height >= 1 })
	time.Sleep(60 * time.Second) // AutoNAT, relay reservation, DHT settle
	pid := home.p.Cmd.Process.Pid
	cpu0, err := cpuTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	time.Sleep(30 * time.Second)
	cpu1, err := cpuTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	rss, err := rssKB(pid)
	if err != nil {
		t.Fatal(err)
	}
	pct := float64(cpu1-cpu0) / 100 / time.Since(t0).Seconds() * 100 // USER_HZ = 100
	hs, _ := home.status(ctx)
	t.Logf("idle home node behind NAT (default config, %d peers, AutoNAT %s): %.2f%% of a core, %d MB RSS", hs.Peers, hs.P2P.Reachability.AutoNAT, pct, rss/1024)
}

// cpuTicks is utime+stime of pid in clock ticks.
func cpuTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu of %d: %w", pid, err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var u, k uint64
	if _, err := fmt.Sscan(f[11], &u); err != nil {
		return 0, fmt.Errorf("utime of %d: %w", pid, err)
	}
	if _, err := fmt.Sscan(f[12], &k); err != nil {
		return 0, fmt.Errorf("stime of %d: %w", pid, err)
	}
	return u + k, nil
}

func rssKB(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("rss of %d: %w", pid, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb uint64
			_, err := fmt.Sscan(rest, &kb)
			return kb, err
		}
	}
	return 0, fmt.Errorf("rss of %d: no VmRSS", pid)
}
