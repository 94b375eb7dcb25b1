package node

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dure-network/dure/node/config"
)

// TestPprofServesOnItsOwnAddress: with [api] pprof_listen_addr set, the
// heap profile is served there, not on the public API address, and the
// listener closes with the node.
func TestPprofServesOnItsOwnAddress(t *testing.T) {
	home, cfg := initHome(t, "pprof-1")
	cfg.API.PprofListenAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	if err := config.Write(filepath.Join(home, config.FileName), cfg); err != nil {
		t.Fatal(err)
	}
	tn := startNode(t, home)
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("http://" + cfg.API.PprofListenAddr + "/debug/pprof/heap?debug=1"); code != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Fatalf("heap profile on %s: %d %.200s", cfg.API.PprofListenAddr, code, body)
	}
	if code, _ := get(tn.Base + "/debug/pprof/heap?debug=1"); code == http.StatusOK {
		t.Fatalf("the public API address serves the profiler")
	}
	tn.Stop()
	if code, _ := get("http://" + cfg.API.PprofListenAddr + "/debug/pprof/"); code != 0 {
		t.Fatalf("profiler still answers after the node stopped: %d", code)
	}
}
