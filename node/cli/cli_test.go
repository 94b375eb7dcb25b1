package cli

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/node/config"
)

func TestInitTwiceNeedsOverwrite(t *testing.T) {
	home := filepath.Join(t.TempDir(), "h")
	code, out, errs := runCLI("init", "--chain-id", "town-1", "--home", home, "--keyring-backend", "test")
	if code != ExitOK || !strings.Contains(out, "Next: dure start --home "+home) {
		t.Fatalf("first init: exit %d\n%s\n%s", code, out, errs)
	}
	for _, f := range []string{config.FileName, "genesis.json", "keys/validator.json"} {
		mustExist(t, filepath.Join(home, f))
	}
	addr := keyAddr(t, home, "validator", "test")

	code, _, errs = runCLI("init", "--chain-id", "town-1", "--home", home, "--keyring-backend", "test")
	if code != ExitUsage || !strings.Contains(errs, "already exists") || !strings.Contains(errs, "--overwrite") {
		t.Fatalf("second init: exit %d (want %d), stderr %q", code, ExitUsage, errs)
	}
	code, _, errs = runCLI("init", "--chain-id", "town-2", "--home", home, "--keyring-backend", "test", "--overwrite")
	if code != ExitOK {
		t.Fatalf("init --overwrite: exit %d: %s", code, errs)
	}
	if got := keyAddr(t, home, "validator", "test"); got != addr {
		t.Errorf("--overwrite replaced the validator key: %s, was %s", got, addr)
	}
	gen, _ := os.ReadFile(filepath.Join(home, "genesis.json"))
	if !strings.Contains(string(gen), `"town-2"`) {
		t.Errorf("--overwrite kept the old genesis")
	}

	for _, c := range []struct {
		name string
		args []string
	}{
		{"no chain id", []string{"init", "--home", filepath.Join(t.TempDir(), "x"), "--keyring-backend", "test"}},
		{"bad chain id", []string{"init", "--chain-id", "Not A Chain!", "--home", filepath.Join(t.TempDir(), "x"), "--keyring-backend", "test"}},
		{"bad backend", []string{"init", "--chain-id", "a-1", "--home", filepath.Join(t.TempDir(), "x"), "--keyring-backend", "os"}},
		{"unknown flag", []string{"init", "--chain-id", "a-1", "--bogus"}},
	} {
		if code, _, errs := runCLI(c.args...); code != ExitUsage || errs == "" {
			t.Errorf("%s: exit %d, want %d; stderr %q", c.name, code, ExitUsage, errs)
		}
	}
}

// keyAddr runs `keys show name -o json` and returns the address.
func keyAddr(t *testing.T, home, name, backend string) string {
	t.Helper()
	code, out, errs := runCLI("keys", "show", name, "-o", "json", "--home", home, "--keyring-backend", backend)
	if code != ExitOK {
		t.Fatalf("keys show %s: exit %d: %s", name, code, errs)
	}
	var row struct {
		Name, Address, Backend string
	}
	if err := json.Unmarshal([]byte(out), &row); err != nil || !strings.HasPrefix(row.Address, "dure1") || row.Name != name {
		t.Fatalf("keys show %s: %q: %v", name, out, err)
	}
	return row.Address
}

func TestKeysCLI(t *testing.T) {
	for _, backend := range []string{"test", "file"} {
		t.Run(backend, func(t *testing.T) {
			t.Setenv("DURE_KEYRING_PASSPHRASE", "correct horse battery staple")
			home := t.TempDir()
			keys := func(args ...string) (int, string, string) {
				return runCLI(append(append([]string{"keys"}, args...), "--home", home, "--keyring-backend", backend)...)
			}
			code, out, errs := keys("add", "alice", "-o", "json")
			if code != ExitOK {
				t.Fatalf("add: exit %d: %s", code, errs)
			}
			addr := keyAddr(t, home, "alice", backend)
			if !strings.Contains(out, addr) || !strings.Contains(out, `"backend": "`+backend+`"`) {
				t.Errorf("add printed %s", out)
			}
			if code, _, errs := keys("add", "alice"); code != ExitUsage || !strings.Contains(errs, "exists") {
				t.Errorf("add twice: exit %d, %q", code, errs)
			}
			if code, _, _ := keys("add", "../evil"); code != ExitUsage {
				t.Errorf("add ../evil: exit %d, want %d", code, ExitUsage)
			}
			if code, out, _ := keys("list"); code != ExitOK || !strings.Contains(out, "alice") || !strings.Contains(out, addr) {
				t.Errorf("list: exit %d\n%s", code, out)
			}
			if code, _, errs := keys("show", "nope"); code != ExitNotFound || !strings.Contains(errs, "nope") {
				t.Errorf("show nope: exit %d, want %d; %q", code, ExitNotFound, errs)
			}
			code, pem, errs := keys("export", "alice")
			if code != ExitOK || !strings.Contains(pem, "DURE ENCRYPTED PRIVATE KEY") || !strings.Contains(pem, addr) {
				t.Fatalf("export: exit %d\n%s\n%s", code, pem, errs)
			}
			pemPath := filepath.Join(t.TempDir(), "alice.pem")
			os.WriteFile(pemPath, []byte(pem), 0o600)
			if code, _, errs := keys("import", "alice2", pemPath); code != ExitOK {
				t.Fatalf("import: exit %d: %s", code, errs)
			}
			if got := keyAddr(t, home, "alice2", backend); got != addr {
				t.Errorf("imported key has address %s, exported %s", got, addr)
			}
			if code, _, _ := keys("import", "alice3", filepath.Join(t.TempDir(), "missing.pem")); code != ExitUsage {
				t.Errorf("import missing file: exit %d, want %d", code, ExitUsage)
			}
			garbage := filepath.Join(t.TempDir(), "garbage.pem")
			os.WriteFile(garbage, []byte("not a key"), 0o600)
			if code, _, errs := keys("import", "alice3", garbage); code == ExitOK || errs == "" {
				t.Errorf("import garbage: exit %d", code)
			}
			// The export is encrypted with the passphrase: another one cannot import it.
			t.Setenv("DURE_KEYRING_PASSPHRASE", "wrong")
			if code, _, _ := keys("import", "alice4", pemPath); code == ExitOK {
				t.Errorf("import with the wrong passphrase succeeded")
			}
			if backend == "file" {
				if code, _, _ := keys("export", "alice"); code == ExitOK {
					t.Errorf("file backend: export with the wrong passphrase succeeded")
				}
				// No passphrase and no terminal: a usage error, not a hang.
				t.Setenv("DURE_KEYRING_PASSPHRASE", "")
				if code, _, errs := keys("add", "bob"); code != ExitUsage || !strings.Contains(errs, "DURE_KEYRING_PASSPHRASE") {
					t.Errorf("file backend without passphrase: exit %d, %q", code, errs)
				}
			}
			if code, _, errs := keys("delete", "alice"); code != ExitOK {
				t.Fatalf("delete: exit %d: %s", code, errs)
			}
			if code, _, _ := keys("show", "alice"); code != ExitNotFound {
				t.Errorf("show after delete: exit %d, want %d", code, ExitNotFound)
			}
			if code, _, _ := keys("delete", "alice"); code != ExitNotFound {
				t.Errorf("delete twice: exit %d, want %d", code, ExitNotFound)
			}
			if code, out, _ := keys("list", "-o", "json"); code != ExitOK || strings.Contains(out, `"alice"`) || !strings.Contains(out, "alice2") {
				t.Errorf("list after delete: exit %d\n%s", code, out)
			}
		})
	}
}

func TestUnreachableNodeExit4(t *testing.T) {
	home := t.TempDir()
	if code, _, errs := runCLI("keys", "add", "alice", "--home", home, "--keyring-backend", "test"); code != ExitOK {
		t.Fatal(errs)
	}
	for _, args := range [][]string{
		{"status"},
		{"query", "block", "latest"},
		{"query", "account", "alice", "--keyring-backend", "test"},
		{"tx", "currency", "send", "--from", "alice", "--keyring-backend", "test", "--to", "alice", "--amount", "1", "--timeout", "5s"},
	} {
		code, _, errs := runCLI(append(args, "--home", home, "--node", "127.0.0.1:1")...)
		if code != ExitNoNode || !strings.Contains(errs, "is the node running") {
			t.Errorf("%v: exit %d, want %d; %q", args, code, ExitNoNode, errs)
		}
	}
}

// walk visits every command of the CLI.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		if sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		walk(sub, fn)
	}
}

func TestHelpHasExamples(t *testing.T) {
	root := newRootCmd(io.Discard, io.Discard)
	walk(root, func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		code, out, errs := runCLI(append(path, "--help")...)
		if code != ExitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: exit %d\n%s", c.CommandPath(), code, errs)
			return
		}
		if !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help has no Examples section", c.CommandPath())
		}
	})
}

// TestUsageErrorsExit2: mistakes in the invocation are exit 2, so scripts
// can tell them from failures; a typo in a subcommand never "succeeds".
func TestUsageErrorsExit2(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{
		{"init", "--bogus"},
		{"status", "--bogus-flag"},
		{"start"}, // no config.toml in home
		{"query", "block", "zero"},
		{"tx", "currency", "send"}, // no --from
		{"nope"},
		{"keys", "show"},
		{"keys", "show", "a", "b"},
		{"status", "extra"},
		{"keys", "nope"},
		{"tx", "nope"},
		{"query", "nope"},
		{"tx", "currency", "nope"},
		{"tx", "staking", "nope"},
	} {
		code, out, errs := runCLI(append(args, "--home", home)...)
		if code != ExitUsage || !strings.Contains(errs, "Error:") {
			t.Errorf("%v: exit %d, want %d\n%s\n%s", args, code, ExitUsage, out, errs)
		}
	}
	// A group without a subcommand shows its help and succeeds.
	if code, out, _ := runCLI("keys", "--home", home); code != ExitOK || !strings.Contains(out, "Available Commands") {
		t.Errorf("dure keys: exit %d\n%s", code, out)
	}
}

func TestStartRefusesBadConfig(t *testing.T) {
	home, _ := initHome(t, "t-1")
	path := filepath.Join(home, config.FileName)
	good, _ := os.ReadFile(path)
	for _, c := range []struct {
		name, extra string
		want        []string
	}{
		{"unknown key", "bogus_key = 1\n", []string{"bogus_key"}},
		{"unknown key in table", "[consensus]\ntimeout_proposal = \"1s\"\n", []string{"timeout_proposal"}},
		{"bad value", "log_level = \"loud\"\n", []string{"log_level"}},
		{"not toml", "this is not = = toml\n", []string{config.FileName}},
		{"a bad [[subnets]] table", "[[subnets]]\nid = \"garden-coop\"\nhome = \".\"\n", []string{`[[subnets]] home = ".": entry 1 (garden-coop): is this node's own home`}},
	} {
		doc := string(good)
		if strings.HasPrefix(c.extra, "[[") {
			doc += c.extra // an array of tables goes last
		} else if table, key, ok := strings.Cut(c.extra, "\n"); ok && strings.HasPrefix(table, "[") {
			doc = strings.Replace(doc, table+"\n", table+"\n"+key, 1)
		} else {
			doc = c.extra + doc
		}
		os.WriteFile(path, []byte(doc), 0o644)
		code, _, errs := runStartBounded(t, home)
		if code != ExitUsage {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, code, ExitUsage, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%s: message does not name %q: %s", c.name, w, errs)
			}
		}
	}
}

func TestStartRefusesAnotherChainsGenesis(t *testing.T) {
	home, _ := initHome(t, "t-1")
	tn := startNode(t, home)
	tn.Stop()
	other, _ := initHome(t, "other-1")
	gen, err := os.ReadFile(filepath.Join(other, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "genesis.json"), gen, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runStartBounded(t, home)
	if code != ExitUsage || !strings.Contains(errs, "genesis") || !strings.Contains(errs, filepath.Join(home, "data")) {
		t.Fatalf("start with another chain's genesis: exit %d, want %d; stderr:\n%s", code, ExitUsage, errs)
	}
	// A genesis.json that is not a genesis at all.
	os.WriteFile(filepath.Join(home, "genesis.json"), []byte("{not json"), 0o644)
	if code, _, errs := runStartBounded(t, home); code != ExitUsage || !strings.Contains(errs, "genesis") {
		t.Errorf("start with a broken genesis.json: exit %d; stderr:\n%s", code, errs)
	}
}

// runStartBounded runs `start` in-process for a home expected to be
// refused. If the node starts after all, it is interrupted (Run listens
// for SIGINT) and the test fails.
func runStartBounded(t *testing.T, home string) (int, string, string) {
	t.Helper()
	type res struct {
		code      int
		out, errs string
	}
	done := make(chan res, 1)
	go func() {
		c, o, e := runCLI("start", "--home", home)
		done <- res{c, o, e}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.errs
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		r := <-done
		t.Fatalf("start kept running for a home it should refuse; it exited %d after SIGINT\n%s", r.code, r.errs)
		return 0, "", ""
	}
}
