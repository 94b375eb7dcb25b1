package node

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dure-network/dure/node/config"
)

// TestDataDirElsewhere: with data_dir outside the home, everything the node
// writes at run time (store and consensus WAL) lives there, and a restart
// resumes from it.
func TestDataDirElsewhere(t *testing.T) {
	home, cfg := initHome(t, "dd-1")
	cfg.DataDir = filepath.Join(t.TempDir(), "elsewhere")
	if err := config.Write(filepath.Join(home, config.FileName), cfg); err != nil {
		t.Fatal(err)
	}
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitHeight(ctx, tn.Client, 3); err != nil {
		t.Fatal(err)
	}
	tn.Stop()
	mustExist(t, filepath.Join(cfg.DataDir, "cs.wal"))
	mustExist(t, filepath.Join(cfg.DataDir, "MANIFEST"))
	if _, err := os.Stat(filepath.Join(home, "data")); !os.IsNotExist(err) {
		t.Errorf("<home>/data was created although data_dir is %s (err %v)", cfg.DataDir, err)
	}
	tn2 := startNode(t, home)
	st, err := tn2.Client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Height < 3 {
		t.Errorf("restart from %s resumed at height %d, want >= 3", cfg.DataDir, st.Height)
	}
}
