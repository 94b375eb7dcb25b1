package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// removeEmptyMemtables deletes memtable WAL files (*.mem) of zero bytes.
// Badger creates a memtable's file and then sizes it; a kill -9 between the
// two leaves an empty file, which holds no write (entries go in only after
// the header is written) but which Badger's open refuses ("while opening
// fid: N err: Create a new file"), so the node could not restart. Such a
// file is the only one removed: a non-empty one, torn or not, is Badger's
// to replay or report.
func removeEmptyMemtables(dir string, log func(path string)) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.mem"))
	if err != nil {
		return fmt.Errorf("store: list memtables: %w", err)
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("store: memtable %s: %w", filepath.Base(p), err)
		}
		if fi.Mode().IsRegular() && fi.Size() == 0 {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("store: remove empty memtable %s: %w", filepath.Base(p), err)
			}
			log(p)
		}
	}
	return nil
}

// checkTables opens and fully checksums every table file before Badger
// sees it. Badger opens tables in its own goroutines, where a damaged
// footer panics beyond anyone's recover, and it silently skips a table
// whose checksum fails, which would lose committed data without a word.
// Here both become an error. Cost: one sequential read of the LSM tree
// at start-up (large values live in the value log, so it stays small).
//
// Only the tables the MANIFEST names are checked: a table a memtable flush
// or a compaction was writing when the process was killed is not in it
// yet, and Badger deletes such orphans when it opens. (If the MANIFEST
// does not read, every table is checked and Badger reports the MANIFEST.)
func checkTables(dir string, opt badger.Options) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		return fmt.Errorf("store: list tables: %w", err)
	}
	live, known := manifestTables(dir, opt)
	for _, p := range paths {
		if known {
			if id, ok := table.ParseFileID(filepath.Base(p)); ok {
				if _, in := live[id]; !in {
					continue
				}
			}
		}
		if err := checkTable(p); err != nil {
			return corrupt(dir, fmt.Errorf("table %s: %w", filepath.Base(p), err))
		}
	}
	return nil
}

// manifestTables reads the table IDs the MANIFEST holds, without changing
// it; known is false if there is none or it does not replay.
func manifestTables(dir string, opt badger.Options) (live map[uint64]badger.TableManifest, known bool) {
	f, err := os.Open(filepath.Join(dir, badger.ManifestFilename))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	m, _, err := badger.ReplayManifestFile(f, opt.ExternalMagicVersion, opt)
	if err != nil {
		return nil, false
	}
	return m.Tables, true
}

func checkTable(path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unreadable table: %v", firstLine(fmt.Sprint(r)))
		}
	}()
	mf, err := z.OpenMmapFile(path, os.O_RDONLY, 0)
	if err != nil && !errors.Is(err, z.NewFile) {
		return err
	}
	t, err := table.OpenTable(mf, table.Options{
		ReadOnly:    true,
		ChkMode:     options.OnTableRead,
		BlockSize:   4 << 10,
		Compression: options.Snappy,
	})
	if err != nil {
		return err
	}
	return t.MmapFile.Close(-1)
}

// firstLine keeps a panic message short: Badger's carry a debug dump.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		s = s[:i]
	}
	return strings.Trim(s, "= ")
}
