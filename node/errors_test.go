package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/store"
	"github.com/dure-network/dure/node/config"
)

// TestErrorKinds: the failures an operator fixes are marked ErrSetup (the
// CLI's exit 2) by the exported entry points, whatever wraps them inside,
// and a failure of the chain's data is not.
func TestErrorKinds(t *testing.T) {
	open := func(home string) error {
		cfg, err := config.Load(filepath.Join(home, config.FileName))
		if err != nil {
			return err
		}
		n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), chain.PrivKey{})
		if err == nil {
			n.Close()
		}
		return err
	}
	for _, c := range []struct {
		name string
		run  func(t *testing.T) error
		want error // ErrSetup, or nil: no mark
		is   error // also errors.Is this, if set
	}{
		{"open without genesis", func(t *testing.T) error {
			home, cfg := initHome(t, "kind-1")
			if err := os.Remove(cfg.GenesisPath()); err != nil {
				t.Fatal(err)
			}
			return open(home)
		}, ErrSetup, os.ErrNotExist},
		{"open on a locked data directory", func(t *testing.T) error {
			home, cfg := initHome(t, "kind-2")
			st, err := store.Open(cfg.DataPath(), store.Options{Logger: slog.New(slog.DiscardHandler), Codec: chain.MustCodec()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			return open(home)
		}, ErrSetup, store.ErrLocked},
		{"export of a home without a chain", func(t *testing.T) error {
			_, cfg := initHome(t, "kind-3")
			_, _, err := ExportGenesis(cfg, "")
			return err
		}, ErrSetup, nil},
		{"proof at a height the store lacks", func(t *testing.T) error {
			home, cfg := initHome(t, "kind-4")
			if err := open(home); err != nil { // writes genesis, height 0
				t.Fatal(err)
			}
			_, _, err := ProveStored(cfg, 5, chain.Hash{}, []byte("k"))
			return err
		}, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.run(t)
			if err == nil {
				t.Fatal("no error")
			}
			if got := Kind(err); got != c.want {
				t.Errorf("Kind(%v) = %v, want %v", err, got, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%v is not %v", err, c.is)
			}
			// A mark survives wrapping and does not change the message.
			if w := fmt.Errorf("start: %w", err); Kind(w) != c.want || w.Error() != "start: "+err.Error() {
				t.Errorf("wrapped: Kind %v, message %q", Kind(w), w.Error())
			}
		})
	}
}
