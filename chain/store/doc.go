// Package store is the node's Badger v4 database: blocks, the commits that
// decided them, tx results, lookup indexes, validator-set history and the
// head record, sharing one managed-mode DB with chain/state.
//
// # Use
//
//	s, err := store.Open(dir, store.Options{Logger: log, KeepRecent: 0})
//	if !s.Initialized() {
//		err = s.CommitGenesis(genesisHash, vals, stateRoot, writeGenesisState)
//	} else {
//		err = s.CheckGenesis(genesisHash) // ErrGenesisMismatch for another chain
//	}
//	...
//	err = s.CommitBlock(block, seenCommit, results, nextVals, state.WritePending)
//
// # Versions and crash safety
//
// The DB is opened with badger.OpenManaged: the store chooses every commit
// timestamp. Everything for height H — block, seen commit, results,
// indexes, validator set, pruning deletes and the caller's state writes
// (the extra callback) — is written with one WriteBatch at TS(H) = H+1
// (genesis, height 0, at TS(0) = 1; managed Badger reserves 0). Badger may
// split that batch into several transactions; that is harmless, because
// nothing reads at TS(H) until the head record says H is committed. The
// head record is written last, in its own small synced transaction at
// TS(H). Readers (this package and chain/state, through ReadTS) read at
// TS(head). After a crash the latest head version is H-1 or H; the
// versions of a half-written H stay invisible and are overwritten, byte for
// byte, when H is re-applied.
//
// # Keys
//
//	m/head, m/genesis, m/base     meta: head record, genesis hash, lowest kept height
//	b/blk/H b/cmt/H b/res/H b/bid/H  block bytes, seen commit, results, block ID (H big-endian)
//	b/val/H                       validator set first used at height H (written on change only;
//	                              ValidatorsAt seeks backwards, so the sorted keys are the pointer)
//	x/bid/<id>  x/tx/<id>         block ID → height; tx ID → height ‖ index
//
// Block bytes and results rest packed (pack.go): 0x00 0x01 ‖ CRC-32C ‖
// S2-compressed bytes, ≈ 0.75 of a block of signed transfers and 0.25 of
// its results (their events hold bech32 addresses as text). A value not
// starting with 0x00 is plain CBOR: what stores before packing wrote (they
// still read; testdata/mainformat is one) and values packing would not
// shrink. BlockRaw returns the canonical bytes either way.
//
// State owns "s/", "n/", "c/" and "r/" (its root and snapshot records);
// the node keeps the pending validator set under "v/". The commit callback
// may not write m/, b/ or x/.
//
// # Pruning
//
// With KeepRecent = N > 0, each commit at H deletes block data below H-N
// (at most 4 heights per commit, so switching pruning on for a long chain
// catches up without a stall), records the new base, and calls
// SetDiscardTs(TS(H-N)) so compactions drop superseded state versions and
// the deleted blocks. Pruned heights answer ErrPruned (which is also
// ErrNotFound). Validator sets are never pruned: they are tiny and light
// clients need them. A pruning store keeps values up to 1 MiB (Badger's
// maximum ValueThreshold) in the LSM rather than the value log: blocks,
// results and state changesets of the bench's block sizes then disappear
// at the next compaction after they are deleted (the value log reclaims
// only files other than the one being written, and only after compactions
// counted their garbage, so a small node's pruned blocks stayed on disk),
// and compacts level 0 after two memtable flushes instead of four.
// Larger values still go to the value log; every 256 commits a background
// value-log GC pass reclaims what it can. KeepRecent = 0 is an archive
// node: nothing is deleted and every state version stays readable.
//
// # Footprint (a volunteer's small machine)
//
//   - MemTableSize 8 MiB, 2 memtables: Badger allocates each memtable's
//     arena (its size plus a batch) on the Go heap up front, so this is
//     ≈ 20 MiB of the node's heap; a 5,000-tx block (≈ 1.3 MB of txs)
//     fits several times over.
//   - ValueThreshold 1 KiB on an archive node: small values (state, SMT
//     nodes, indexes, heights, commits of small sets) stay in the LSM for
//     fast reads; blocks and results go to the value log, so compactions
//     do not rewrite them. 1 MiB on a pruning node (see Pruning).
//   - BlockCacheSize 16 MiB, IndexCacheSize 8 MiB: bounded read caches
//     instead of Badger's 256 MiB default.
//   - NumCompactors 2 (Badger's minimum useful number, the machine has 2
//     cores), L0 stall at 12 tables, 2 MiB tables, Snappy compression.
//   - 128 MiB value-log files (above the 32 MiB block limit), conflict
//     detection off (there is one writer), Badger metrics off.
//
// Badger's own log lines go to Options.Logger: warnings and errors only.
//
// # Damage
//
// Opening never panics on a damaged directory. Before Badger opens, every
// .sst table the MANIFEST names is checksummed in full (a table a flush or
// compaction was still writing when the process died is not named yet, and
// Badger deletes it; before this was so, a kill -9 during a flush left a
// directory the store called corrupt) (Badger opens tables in goroutines
// where a bad footer panics unrecoverably, and it silently skips tables
// whose checksum fails). An empty memtable file (*.mem of 0 bytes: a kill -9
// between Badger creating it and sizing it; it holds no write) is removed
// with a warning, since Badger refuses to open beside one. Then the head
// record must decode and its block
// must load, decode, and match the head's height and ID. A marker file
// (DURE_INITIALIZED) written after genesis tells a directory whose head
// vanished (a damaged MANIFEST makes Badger drop tables) from a fresh one.
// All of these give an error wrapping ErrCorrupt that names the directory
// and says to restore a backup or remove it and re-sync from peers. A
// second process on the same directory gets ErrLocked.
//
// Known limits: only the head block is validated at open; damage to older
// values surfaces as an ErrCorrupt error when they are read.
package store
