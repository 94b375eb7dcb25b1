package node

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/p2p"
)

// Every API connection, p2p connection, Badger table and WAL segment is a
// file descriptor, and the process has RLIMIT_NOFILE of them. When a flood
// of API clients took them all, the consensus WAL append failed ("too many
// open files") and the validator stopped. So at start the node raises its
// soft limit to the hard one, then checks that what each part may hold
// fits under it, with the consensus path's share reserved:
//
//	consensus  fdConsensus: WAL segments, last-signed and block-stash writes, config, logs, runtime
//	store      the data directory's files now + fdStoreGrowth for tables and logs made while running
//	p2p        p2p.FDLimit(high_water), enforced by libp2p's resource manager
//	API        max_connections + the 503 answers in flight, enforced by api.LimitListener
//
// If it does not fit the node refuses to start, naming [api] max_connections.
const (
	fdConsensus   = 64
	fdStoreGrowth = 128
)

// fdBudget is what the parts of the node may hold.
type fdBudget struct {
	limit                       uint64
	consensus, store, p2p, apiN int
}

func (b fdBudget) reserved() int { return b.consensus + b.store + b.p2p }

// apiRoom is the most max_connections that fits.
func (b fdBudget) apiRoom() int {
	room := int(min(b.limit, 1<<30)) - b.reserved() - api.RejectFDs
	return max(room/api.FDsPerConn, 0)
}

// countFiles counts the files under dir (0 if it does not exist yet).
func countFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil {
			n++
		}
		return nil
	})
	return n
}

// planFDs raises the open-file limit and checks the budget against it.
func planFDs(cfg config.Config, log *slog.Logger) (fdBudget, error) {
	soft, hard, was, err := raiseFileLimit()
	if err != nil {
		log.Warn("cannot raise the open-file limit", "soft", soft, "hard", hard, "err", err)
	} else if soft > was {
		log.Info("raised the open-file limit (RLIMIT_NOFILE) to the hard limit", "from", was, "soft", soft, "hard", hard)
	} else {
		log.Info("open-file limit (RLIMIT_NOFILE)", "soft", soft, "hard", hard)
	}
	b := fdBudget{limit: soft, consensus: fdConsensus, store: countFiles(cfg.DataPath()) + fdStoreGrowth,
		p2p: p2p.FDLimit(cfg.P2P.HighWater)}
	if cfg.API.ListenAddr != "" {
		b.apiN = cfg.API.MaxConnections
	}
	if soft == 0 || b.apiN <= b.apiRoom() {
		return b, nil
	}
	return b, setupErr(&config.FieldError{Key: "[api] max_connections", Value: fmt.Sprint(cfg.API.MaxConnections),
		Msg: fmt.Sprintf("does not fit under the open-file limit of %d (ulimit -n; hard limit %d): %d descriptors are reserved for the consensus WAL (%d), the store in %s (%d) and p2p with high_water = %d (%d), so at most %d API connections fit; lower max_connections (or [p2p] high_water), or raise the limit (ulimit -n, systemd LimitNOFILE=)",
			soft, hard, b.reserved(), b.consensus, cfg.DataPath(), b.store, cfg.P2P.HighWater, b.p2p, b.apiRoom())})
}

// watchFDs re-counts the store's files as it grows: once what it holds
// leaves less room than [api] max_connections, the API's bound shrinks so
// clients still cannot take the consensus path's descriptors (and grows
// back, up to max_connections, when compaction removes files).
func (n *Node) watchFDs(ctx context.Context, every time.Duration) {
	if n.apiLn == nil || n.fds.limit == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b := n.fds
		b.store = countFiles(n.cfg.DataPath()) + fdStoreGrowth
		want := min(n.cfg.API.MaxConnections, max(b.apiRoom(), 1))
		if cur := n.apiLn.Max(); want != cur {
			n.apiLn.SetMax(want)
			if want < n.cfg.API.MaxConnections {
				n.log.Warn("the store's files leave less room under the open-file limit: API connections bounded lower than [api] max_connections; raise the limit (ulimit -n)",
					"max_connections", n.cfg.API.MaxConnections, "now", want, "open_file_limit", b.limit, "store_fds", b.store)
			} else {
				n.log.Info("API connection bound back to [api] max_connections", "max_connections", want)
			}
		}
	}
}
