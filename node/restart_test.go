package node

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/keystore"
	"github.com/dure-network/dure/p2p"
)

// snapTransport is a lone validator's transport that copies the data
// directory the first time the node sends a precommit: the state a crash
// at that instant leaves on disk (the WAL and last-signed state are synced
// before any signed message leaves).
type snapTransport struct {
	n    *Node
	from string
	to   string
	done bool
	t    *testing.T
}

func (s *snapTransport) PublishTx(context.Context, []byte) error       { return nil }
func (s *snapTransport) PublishBlock(context.Context, []byte) error    { return nil }
func (s *snapTransport) PublishEvidence(context.Context, []byte) error { return nil }
func (s *snapTransport) PeerCount() int                                { return 0 }
func (s *snapTransport) Sync(context.Context, uint64, func(p2p.SyncItem) error) (p2p.SyncReport, error) {
	return p2p.SyncReport{}, p2p.ErrNoPeers
}

func (s *snapTransport) PublishConsensus(_ context.Context, data []byte) error {
	var w wireMsg
	if s.done || s.n.codec.Unmarshal(data, &w) != nil || w.Vote == nil || w.Vote.Type != chain.Precommit {
		return nil
	}
	s.done = true
	if err := copyDir(s.from, s.to); err != nil {
		s.t.Errorf("snapshot: %v", err)
	}
	return nil
}

func copyDir(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		if d.Name() == "LOCK" { // Badger's process lock: the "crashed" process held it
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// A lone validator that crashes after precommitting its own proposal must,
// on restart, replay its WAL, decide that block and apply it: the block was
// kept on disk before the proposal left. (Without that, the decided block
// existed only in the dead process's memory and the chain stopped for good.)
func TestLoneValidatorRestartsAfterPrecommit(t *testing.T) {
	home, cfg := initHome(t, "restart-1")
	ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ks.Signer("validator")
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// First life: runs until it has committed height 1 (snapshot taken at
	// its precommit for height 1).
	n, err := Open(ctx, cfg, slog.New(slog.DiscardHandler), key)
	if err != nil {
		t.Fatal(err)
	}
	tr := &snapTransport{n: n, from: cfg.DataPath(), to: snap, t: t}
	n.tr = tr
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.drive(runCtx) }()
	for n.headHeight() < 1 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n.closeStorage()
	if !tr.done {
		t.Fatal("no precommit was sent")
	}

	// Second life, from the crash snapshot: height 1 is not committed on
	// disk, the WAL holds the proposal and votes, the stash holds the block.
	cfg2 := cfg
	cfg2.DataDir = snap
	if err := config.Write(filepath.Join(home, config.FileName), cfg2); err != nil {
		t.Fatal(err)
	}
	cfg2, err = config.Load(filepath.Join(home, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	n2, err := Open(ctx, cfg2, slog.New(slog.DiscardHandler), key)
	if err != nil {
		t.Fatal(err)
	}
	if h := n2.headHeight(); h != 0 {
		t.Fatalf("snapshot is at height %d, want 0 (taken before the commit)", h)
	}
	n2.tr = &snapTransport{n: n2, done: true, t: t}
	ctx2, stop2 := context.WithTimeout(ctx, 10*time.Second)
	defer stop2()
	done2 := make(chan error, 1)
	go func() { done2 <- n2.drive(ctx2) }()
	for n2.headHeight() < 3 && ctx2.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	got := n2.headHeight()
	stop2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	n2.closeStorage()
	if got < 3 {
		t.Fatalf("restarted validator stuck at height %d", got)
	}
}
