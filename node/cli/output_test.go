package cli

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
)

// TestCLIOutputAndArguments: -o json|text works for tx, query and
// status, anything else is refused with exit 2 before a tx is signed or
// sent; a tx ID in a non-canonical spelling and a missing required
// argument are exit 2 naming the problem.
func TestCLIOutputAndArguments(t *testing.T) {
	home, _ := initHome(t, "t-1")
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node := tn.Cfg.API.ListenAddr
	self := tn.Key.PubKey().Address()
	bob := newKey(t).PubKey().Address()
	send := []string{"tx", "currency", "send", "--home", home, "--node", node, "--keyring-backend", "test",
		"--from", "validator", "--to", bob.String(), "--amount", "5"}

	_, nonce0, _ := balanceOf(t, tn.Base, self)
	for _, o := range []string{"yaml", "JSON", ""} {
		for _, args := range [][]string{send, {"query", "account", self.String(), "--home", home, "--node", node}, {"status", "--home", home, "--node", node}} {
			code, out, errs := runCLI(append(args, "-o", o)...)
			if code != ExitUsage || out != "" || !strings.Contains(errs, "use \"json\" or \"text\"") {
				t.Errorf("%s -o %q: exit %d, want %d\n%s\n%s", args[0], o, code, ExitUsage, out, errs)
			}
		}
	}
	if _, nonce, _ := balanceOf(t, tn.Base, self); nonce != nonce0 {
		t.Fatalf("a refused -o still sent a tx: nonce %d, was %d", nonce, nonce0)
	}

	code, out, errs := runCLI(append(send, "-o", "text")...)
	if code != ExitOK || !strings.Contains(out, "\nheight ") || !strings.HasPrefix(out, "id ") || strings.Contains(out, "{") {
		t.Fatalf("tx -o text: exit %d\n%s\n%s", code, out, errs)
	}
	id := strings.Fields(strings.SplitN(out, "\n", 2)[0])[1]
	for _, args := range [][]string{
		{"query", "tx", id},
		{"query", "account", bob.String()},
		{"query", "block", "latest"},
		{"query", "validators"},
		{"query", "currency", "balances", "--arg", "address=" + bob.String()},
	} {
		code, out, errs := runCLI(append(args, "--home", home, "--node", node, "-o", "text")...)
		if code != ExitOK || !strings.Contains(out, "verified ") || strings.Contains(out, "{\n") {
			t.Errorf("%s -o text: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
		}
	}
	if code, out, errs := runCLI("query", "account", bob.String(), "--home", home, "--node", node, "-o", "text"); code != ExitOK ||
		!strings.Contains(out, "account.balances[0].amount") || !strings.Contains(out, "5") {
		t.Errorf("account -o text does not show the balance:\n%s\n%s", out, errs)
	}

	// A changed last base32 character that decodes to the same bytes.
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	alt := id[:len(id)-1] + string(alphabet[strings.IndexByte(alphabet, id[len(id)-1])^1])
	if code, out, errs := runCLI("query", "tx", alt, "--home", home, "--node", node); code != ExitUsage || out != "" || !strings.Contains(errs, "canonical") {
		t.Errorf("non-canonical tx ID %s: exit %d, want %d\n%s\n%s", alt, code, ExitUsage, out, errs)
	}
	if _, err := chain.ParseID(alt); err == nil {
		t.Errorf("ParseID accepted %s", alt)
	}
	if code, _, errs := runCLI("query", "currency", "balances", "--home", home, "--node", node); code != ExitUsage || !strings.Contains(errs, "address is required") {
		t.Errorf("balances without address: exit %d, want %d naming it\n%s", code, ExitUsage, errs)
	}
	if err := waitHeight(ctx, tn.Client, 1); err != nil {
		t.Fatal(err)
	}
}

// TestStatusHomeTestnetDir: `dure status --home <testnet dir>` asks the
// testnet's first node, not the default port.
func TestStatusHomeTestnetDir(t *testing.T) {
	base := freeBasePort(t, 32)
	dir := filepath.Join(t.TempDir(), "net")
	if code, out, errs := runCLI("testnet", "--generate-only", "--dir", dir, "--validators", "2", "--base-port", fmt.Sprint(base)); code != ExitOK {
		t.Fatalf("testnet --generate-only: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs := runCLI("status", "--home", dir)
	want := fmt.Sprintf("127.0.0.1:%d", base)
	if code != ExitNoNode || !strings.Contains(errs, want) {
		t.Fatalf("status --home %s (nothing running): exit %d, want %d dialing %s\n%s\n%s", dir, code, ExitNoNode, want, out, errs)
	}
}

// freeBasePort finds a base port whose span ports on 127.0.0.1 are all free
// now: other tests run nodes on this machine at the same time, so one free
// port says nothing about its neighbours.
func freeBasePort(t *testing.T, span int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		base := 20000 + port%20000/10*10 // keep base+span below 65536
		var held []net.Listener
		for p := base; p < base+span; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			l.Close()
		}
		if len(held) == span {
			return base
		}
	}
	t.Fatalf("no %d free ports in a row on 127.0.0.1 after 50 tries", span)
	return 0
}

// TestLiveLineSeesRestartedNode: the testnet live line shows a node whose
// process it started has exited but which answers on its API address (it
// was restarted by hand) as up, and one that answers nothing as down.
func TestLiveLineSeesRestartedNode(t *testing.T) {
	home, _ := initHome(t, "t-1")
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitHeight(ctx, tn.Client, 1); err != nil {
		t.Fatal(err)
	}
	if part, up, _ := liveState(ctx, "node1", false, tn.Client); !up || !strings.HasPrefix(part, "node1=h") {
		t.Errorf("restarted node: %q up=%v, want node1=h…", part, up)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dead := api.NewClient(addr)
	if part, up, _ := liveState(ctx, "node2", false, dead); up || part != "node2=down" {
		t.Errorf("stopped node: %q up=%v, want node2=down", part, up)
	}
	if part, up, _ := liveState(ctx, "node3", true, dead); !up || part != "node3=?" {
		t.Errorf("running but not answering: %q up=%v, want node3=?", part, up)
	}
}
