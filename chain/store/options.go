package store

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// pruneValueThreshold is the ValueThreshold of a pruning store: Badger's
// maximum, so blocks, results and changesets (all below it at the bench's
// block sizes) live in the LSM, where a compaction drops them once they are
// deleted below the discard timestamp. In the value log they would stay
// until a value-log GC rewrote their file, which it does only for files
// other than the one being written and only after compactions have
// counted their garbage: in practice never, for the window of a small node.
const pruneValueThreshold = 1 << 20

// badgerOptions are the small-footprint settings explained in doc.go.
// keep is the store's KeepRecent (0: archive).
func badgerOptions(dir string, log *slog.Logger, keep uint64) badger.Options {
	o := badger.DefaultOptions(dir)
	o.SyncWrites = true
	o.Logger = slogLogger{log}
	o.MemTableSize = 8 << 20
	o.NumMemtables = 2
	o.NumLevelZeroTables = 4
	o.NumLevelZeroTablesStall = 12
	o.BaseTableSize = 2 << 20
	o.BaseLevelSize = 10 << 20
	o.NumCompactors = 2
	o.BlockCacheSize = 16 << 20
	o.IndexCacheSize = 8 << 20
	o.ValueThreshold = 1 << 10
	if keep > 0 {
		o.ValueThreshold = pruneValueThreshold
		// Compact L0 after two memtable flushes (16 MiB) rather than
		// four, so pruned data goes within a minute at full load.
		o.NumLevelZeroTables = 2
	}
	o.ValueLogFileSize = 32 << 20
	o.Compression = options.Snappy
	o.MetricsEnabled = false
	o.DetectConflicts = false // one writer: the block commit
	o.NumGoroutines = 2
	// Tables are fully checksummed before open (checkTables); while
	// running, each block is checked as it is read from disk.
	o.ChecksumVerificationMode = options.OnBlockRead
	o.VerifyValueChecksum = true
	o.NumVersionsToKeep = 1 // versions above the discard ts are always kept
	return o
}

// slogLogger routes badger's log lines to slog. Badger is chatty at info
// level (every compaction, every flush), so only warnings and errors are
// kept; a node operator has no use for the rest.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Errorf(f string, a ...any) {
	s.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}

func (s slogLogger) Warningf(f string, a ...any) {
	s.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}

func (slogLogger) Infof(string, ...any)  {}
func (slogLogger) Debugf(string, ...any) {}
