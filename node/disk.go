package node

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dure-network/dure/node/api"
)

// Badger writes its memtables and value log through mmap: on a full
// filesystem a write is a SIGBUS, not an error, and the process dies
// (again at every restart, in openMemTable). So the node never lets the
// data directory's filesystem get that full: before each block's writes,
// before consensus WAL appends and before block-stash writes it checks
// free space against [storage] min_free_disk, and when short it stops
// signing and committing (reads go on) until space is freed. At start,
// a filesystem already short stops the node (exit 5) before the
// store is opened.

// ErrDiskLow is api.ErrDiskLow: the data directory's filesystem has less
// free space than [storage] min_free_disk.
var ErrDiskLow = api.ErrDiskLow

// diskGuard watches the free space of the data directory's filesystem.
type diskGuard struct {
	dir   string // the data directory
	mount string // its filesystem's mount point, for messages
	min   uint64
	log   *slog.Logger

	low  atomic.Bool
	free atomic.Uint64

	mu      sync.Mutex
	lastErr time.Time
}

func newDiskGuard(dir string, min uint64, log *slog.Logger) *diskGuard {
	g := &diskGuard{dir: dir, min: min, log: log}
	g.mount = mountPoint(existingParent(dir))
	return g
}

// existingParent is dir, or its nearest ancestor that exists (a data
// directory not created yet lives on its parent's filesystem).
func existingParent(dir string) string {
	d := filepath.Clean(dir)
	for {
		if _, err := os.Stat(d); err == nil {
			return d
		}
		p := filepath.Dir(d)
		if p == d {
			return d
		}
		d = p
	}
}

// check measures free space; below min it returns an error wrapping
// ErrDiskLow that names the directory, the filesystem and both sizes.
// A filesystem that cannot be measured is not treated as full, nor is a
// nil guard (a Node built by hand in a test).
func (g *diskGuard) check() error {
	if g == nil {
		return nil
	}
	free, err := freeBytes(existingParent(g.dir))
	if err != nil {
		return nil
	}
	g.free.Store(free)
	if free >= g.min {
		if g.low.Swap(false) {
			g.log.Warn("disk space recovered: signing and committing again", "data_dir", g.dir, "free", ibytes(free),
				"min_free_disk", ibytes(g.min))
		}
		return nil
	}
	err = g.errShort(free)
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.low.Swap(true) {
		g.log.Error("disk space low: stopped signing and committing; reads are still served; free space to resume",
			"err", err, "data_dir", g.dir, "filesystem", g.mount)
		g.lastErr = time.Now()
	} else if time.Since(g.lastErr) > 30*time.Second {
		g.lastErr = time.Now()
		g.log.Error("disk space still low: not signing or committing", "err", err)
	}
	return err
}

func (g *diskGuard) errShort(free uint64) error {
	return fmt.Errorf("%w: data directory %s (filesystem mounted at %s) has %s free, below [storage] min_free_disk = %s; free space on it, move data_dir to a larger disk, or lower min_free_disk",
		ErrDiskLow, g.dir, g.mount, ibytes(free), ibytes(g.min))
}

// short reports whether the disk is below the minimum, after checking.
func (g *diskGuard) short() bool { return g.check() != nil }

// health measures again and fills the disk part of the API's health.
func (g *diskGuard) health(h *api.Health) {
	if g == nil {
		return
	}
	_ = g.check()
	h.DiskFree, h.DiskMinFree = g.free.Load(), g.min
	if g.low.Load() {
		h.OK = false
		h.Code = "disk_low"
		h.Message = g.errShort(g.free.Load()).Error()
	}
}

// checkDiskAtStart refuses to open the store on a filesystem already short.
func checkDiskAtStart(g *diskGuard) error {
	free, err := freeBytes(existingParent(g.dir))
	if err != nil {
		g.log.Warn("cannot measure free disk space; [storage] min_free_disk is not enforced", "data_dir", g.dir, "err", err)
		return nil
	}
	g.free.Store(free)
	if free < g.min {
		return diskLowErr(fmt.Errorf("not starting: %w (the store cannot be opened safely on a full disk)", g.errShort(free)))
	}
	return nil
}

// IsDiskLow reports whether err is the node refusing to write for lack of
// space (or the OS reporting ENOSPC).
func IsDiskLow(err error) bool { return errors.Is(err, ErrDiskLow) || isENOSPC(err) }

// ibytes renders a size for people: "3.25 MiB".
func ibytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit && exp < 5; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

// DiskFree is the space available to this process on the filesystem that
// holds dir (or, if dir does not exist yet, its nearest existing parent).
func DiskFree(dir string) (uint64, error) { return freeBytes(existingParent(dir)) }
