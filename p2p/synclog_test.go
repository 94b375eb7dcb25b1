package p2p

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSyncerLogsLongSync: a sync of more than MaxSyncRange blocks tells
// the operator (at Info) where it starts, where it is going and from how
// many peers.
func TestSyncerLogsLongSync(t *testing.T) {
	var buf lockedBuf
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	client := newTestNode(t, "dure-sync", func(_ *Config, d *Deps) { d.Logger = log })
	srv := newTestNode(t, "dure-sync", withBlocks(&memBlocks{head: 300}))
	if err := client.Connect(context.Background(), srv.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	rep, applied := runSync(t, client, []peer.ID{srv.ID()})
	wantHeights(t, applied, 300)
	if rep.Applied != 300 {
		t.Fatalf("report %+v", rep)
	}
	out := buf.String()
	if !strings.Contains(out, `msg="p2p: syncing" from=1 target=300 blocks=300 peers=1`) {
		t.Errorf("no sync start line in the log:\n%s", out)
	}
}
