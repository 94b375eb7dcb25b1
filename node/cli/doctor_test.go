package cli

import (
	"strings"
	"testing"
)

// TestDoctorHome: doctor on a fresh home warns that it will find no peers
// and that no node runs, and exits 0; on a home without config it fails
// with exit 1 and says how to make one.
func TestDoctorHome(t *testing.T) {
	home := t.TempDir()
	if code, _, errs := runCLI("init", "--chain-id", "doc-1", "--keyring-backend", "test", "--home", home); code != ExitOK {
		t.Fatal(errs)
	}
	code, out, errs := runCLI("doctor", "--home", home, "--node", "127.0.0.1:1")
	if code != ExitOK {
		t.Fatalf("doctor: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"ok    config", "warn  peering", "bootstrap_peers", "ok    disk", "warn  node", "no running node answered"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI("doctor", "--home", t.TempDir(), "--node", "127.0.0.1:1", "-o", "json")
	if code != ExitError || !strings.Contains(out, `"level": "fail"`) || !strings.Contains(out, "dure init") {
		t.Errorf("doctor without config: exit %d, want %d\n%s", code, ExitError, out)
	}
}
