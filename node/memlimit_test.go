package node

import (
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/dure-network/dure/node/config"
)

func TestApplyMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	log := slog.New(slog.DiscardHandler)
	cfg := config.Default(t.TempDir())
	if cfg.Storage.MemoryLimit != config.DefaultMemoryLimit || config.DefaultMemoryLimit != 256<<20 {
		t.Fatalf("default memory_limit %s", cfg.Storage.MemoryLimit)
	}

	t.Setenv("GOMEMLIMIT", "")
	cfg.Storage.MemoryLimit = 300 << 20
	if got := ApplyMemoryLimit(cfg, log); got != 300<<20 || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Fatalf("limit after memory_limit = 300MiB: returned %d, runtime %d", got, debug.SetMemoryLimit(-1))
	}

	// 0 leaves whatever is in force alone.
	cfg.Storage.MemoryLimit = 0
	if got := ApplyMemoryLimit(cfg, log); got != 300<<20 || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Fatalf("memory_limit = 0 changed the limit to %d", got)
	}

	// GOMEMLIMIT (read by the runtime at start) wins over the config.
	t.Setenv("GOMEMLIMIT", "1GiB")
	cfg.Storage.MemoryLimit = 128 << 20
	if got := ApplyMemoryLimit(cfg, log); got != 300<<20 || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Fatalf("with GOMEMLIMIT set, memory_limit changed the limit to %d", got)
	}
}
