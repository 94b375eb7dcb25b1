// Package state is dure's authenticated application state: key/value pairs
// held flat in Badger for fast reads and, over the same pairs, a sparse
// Merkle trie (pokt-network/smt, sha2-256) whose root goes in every block
// header, so any value or absence can be proven to a light client.
//
// # Storage
//
// The package shares the node's single Badger database, opened in managed
// mode by chain/store. A version is a Badger commit timestamp (the store
// chooses it; Badger refuses timestamp 0, so the first commit uses 1 or
// more). Keys:
//
//	"s/" + key         → value          (flat values, ordered for Iterate)
//	"r/stateroot"      → 32-byte root   (one record, versioned by Badger)
//	"c/" + base (BE64) → changeset      (the commit made on version base)
//	"n/" + digest      → trie node      (content addressed; snapshots)
//	"r/snapshot"       → 32-byte root   (its Badger version is the snapshot's)
//
// The trie lives in memory, in the pattern of Cronos' memiavl and SeiDB: a
// commit writes its flat values, its root and one changeset record (every
// key it wrote, sorted, with the new value or a deletion; see
// changeset.go), not the ≈ 20 trie nodes each written key changes. Every
// Options.SnapshotEvery commits (32 by default, and the first commit),
// the commit is a snapshot instead: it writes every live trie node not yet
// in Badger, deletes the persisted nodes that died before the proof
// window, deletes the changesets it supersedes and records its root under
// "r/snapshot". All of it goes in the block's own batch at the block's
// timestamp, so the store's "H-1 or H" crash rule covers it: a torn write
// is invisible, and re-applying the block writes content-addressed nodes
// and the same keys again.
//
// Open loads the newest snapshot visible at the head (nodes are read from
// Badger lazily, checked against their digest) and replays the changesets
// after it in order, checking each version's recorded root and finally the
// head's root; a missing, damaged or forged changeset, or a damaged
// snapshot node, is an error naming the version (ErrCorruptChangeset,
// ErrCorruptNode, ErrRootMismatch). A database without "r/snapshot" was
// written before snapshots existed (every commit persisted its nodes) and
// opens as a snapshot at its head.
//
// Reads: a Branch or Reader at the head reads values from an in-memory
// cache of the head's values, then Badger's "s/" at its version. Old
// versions read old "s/" versions, until the store discards them
// (SetDiscardTs). Root(V) reads "r/stateroot" at V.
//
// Overlays (branch.go): a child branch (one transaction) keeps its first
// 8 writes in a slice inside the Branch and moves to a map only past
// that; the top-level branch keeps a map of writes, a btree of their keys
// and a map of the committed values it read. Reserve(n) sizes those maps
// for a block up front. Lookups take []byte keys without converting them
// to strings; a key is copied only when a branch keeps it.
//
// Proofs: Prove answers for the head and the Options.ProofWindow versions
// before it (8 by default; after a restart, from the snapshot it loaded
// on): dead trie nodes stay in memory, and persisted ones in Badger, until
// they leave the window. Older versions give ErrProofPruned.
//
// # Use
//
//	st, _ := state.New(db, headVersion, headRoot) // or Open with Options
//	b := st.Branch()               // overlay on the committed head
//	tx := b.Branch()               // per-transaction overlay
//	... tx.Set / tx.Get ...
//	tx.Write()                     // keep (or drop tx to revert)
//	p, _ := st.Stage(b)            // new root; nothing written yet
//	p.WriteTo(blockBatch)          // store adds it to the block's batch
//	st.Committed(p, version)       // after the batch is durable
//
// Several candidates may be staged from one head; committing one makes the
// others stale (Committed and Stage refuse them). Snapshots are scheduled
// by commit count, so every node takes them at the same heights. Values
// must be non-empty: absence is the only empty state, because a proof
// cannot tell the two apart.
//
// Staging (batch.go): Stage and replay do not call the smt library's
// Update/Commit. A batched updater hashes the version's trie keys to paths,
// sorts them once and rebuilds each touched path once, from the root down:
// each stored node is decoded once, each new node encoded and hashed once,
// and the node changes are the exact difference between the old and new
// trie. It writes smt's trie (same digests, same node encodings but for
// the unread path bits outside an extension's bounds), so Prove, which
// still walks the trie with smt, and databases written by smt are
// unchanged; batch_test.go checks it against smt's own Update on random
// and adversarial key sets, and every committed root against smt's root
// built from nothing. The head trie stays decoded in memory down to
// depth 16 between blocks (residentDepth): candidates staged from one
// head share it read-only and each builds its own new nodes (copy on
// write); Committed makes the chosen one's the head's.
//
// Memory: the nodes created since the last snapshot (at most the nodes
// those commits touched) plus the nodes that died within the proof window,
// bounded caches of persisted nodes and head values, and the resident top
// of the head trie: at most 2^17 decoded nodes and as many child
// references, 128 bytes each, whatever the number of keys: ≈ 19 MB for
// 100k keys (BenchmarkStage5000On100k reports resident-MB), ≈ 34 MB
// for 1M (the top 16 levels full), ≈ 3 MB estimated for 10k.
//
// Proofs: Prove returns a Proof (JSON and canonical CBOR) that VerifyProof
// checks against a root with no database.
//
// # Range proofs (index.go, proven.go)
//
// A state opened with Options.RangeProofs on an empty database (a chain
// whose genesis sets range_proofs) also commits, in the same trie, one
// next-key record per key: trie key 0x00 + key → the next key in byte
// order (0x00: none), and 0x00 → the first key. No state key may start
// with 0x00 (ErrReservedKey). Stage writes records only for created and
// deleted keys and their predecessors; they live in the trie and the
// changesets, never in "s/", and a non-empty state knows it is indexed by
// the head record in its trie. ProveRange returns the records that chain
// a prefix's keys (ProveReads: everything a query read); Proven, fed
// verified facts, is a chain.KVReader whose Iterate follows them, so a
// query re-run over it lists exactly the committed keys or fails with
// ErrUnproven, and Lists says which lists were proven complete or a first
// page. A state without records proves the head record absent instead,
// and Proven marks its lists ListUnindexed.
package state
