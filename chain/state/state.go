package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/pokt-network/smt"

	"github.com/dure-network/dure/chain"
)

// Key layout in the shared Badger database.
const (
	valuePrefix     = "s/" // "s/" + state key → value
	nodePrefix      = "n/" // "n/" + sha256 node digest → encoded trie node (snapshots)
	changesetPrefix = "c/" // "c/" + base version (8 bytes BE) → changeset of the next version
	// RootKey holds the state root of each version. It is written with the
	// block at the block's commit timestamp, so reading it at timestamp V
	// gives the root of version V (Badger keeps the versions).
	RootKey = "r/stateroot"
	// snapshotKey holds the root of the newest snapshot; its Badger
	// version is the snapshot's version.
	snapshotKey = "r/snapshot"
)

// MaxKeyLen bounds a state key (Badger's own limit is near 64 KiB).
const MaxKeyLen = 1024

const hashLen = sha256.Size

// nodeCacheSize bounds the cache of persisted trie nodes per generation
// (an entry costs about 180 bytes, so two full generations stay under
// 40 MB). It holds the upper levels of the trie that every block walks.
const nodeCacheSize = 100_000

// Defaults for Options.
const (
	DefaultSnapshotEvery = 32
	DefaultProofWindow   = 8
)

// Errors returned by the package.
var (
	ErrEmptyKey     = errors.New("state: empty key")
	ErrKeyTooLong   = errors.New("state: key too long")
	ErrEmptyValue   = errors.New("state: empty value (use Delete)")
	ErrStaleBranch  = errors.New("state: branch is not on the committed head")
	ErrNotRoot      = errors.New("state: not a top-level branch")
	ErrClosed       = errors.New("state: branch already written into its parent")
	ErrVersion      = errors.New("state: unknown version")
	ErrRootMismatch = errors.New("state: root mismatch")
	ErrMissingNode  = errors.New("state: trie node missing")
	ErrCorruptNode  = errors.New("state: trie node corrupt")
)

// Options tune the state store; zero fields take the defaults.
type Options struct {
	// SnapshotEvery: trie nodes are written to Badger by every this many
	// commits (and the first); the commits in between write only their
	// changeset. A restart replays at most SnapshotEvery-1 changesets.
	SnapshotEvery int
	// ProofWindow: Prove answers for the head and this many versions
	// before it (after a restart, from the last snapshot on).
	ProofWindow int
	// RangeProofs: a new (empty) state commits the order of its keys in
	// its root (next-key records, see index.go), so ProveRange can prove
	// list answers complete. It changes the root, so it is chosen once, at
	// genesis (genesis params range_proofs); a non-empty state is indexed
	// exactly when its trie holds the head record, whatever this says.
	RangeProofs bool
}

func (o Options) withDefaults() Options {
	if o.SnapshotEvery <= 0 {
		o.SnapshotEvery = DefaultSnapshotEvery
	}
	if o.ProofWindow <= 0 {
		o.ProofWindow = DefaultProofWindow
	}
	return o
}

// State is the committed authenticated state: the head version and root,
// over the node's Badger database. It is safe for concurrent use; the
// Branches it hands out are not.
type State struct {
	db     *badger.DB
	nodes  *nodeDB
	values *valueCache
	opts   Options

	mu      sync.RWMutex
	version uint64
	root    chain.Hash
	// Changesets written since the last snapshot, by base version (the
	// version each applies on top of).
	sinceSnap []uint64
	minProof  uint64 // oldest version whose nodes are all reachable
	// needSnap: the next commit must be a snapshot (a database written
	// before snapshots existed has no snapshot record to replay from).
	needSnap bool
	// indexed: the trie holds next-key records (fixed for the state's life).
	indexed bool
	// tree: the head trie's resident top (batch.go), nil until a commit or
	// replay made one.
	tree *tnode
}

// New opens the state whose committed head is (version, root) with
// default Options: version 0 and the zero root before genesis. version is
// the Badger timestamp the head was committed at. If a root was recorded
// for that version it must equal root, so a node never resumes on state
// it did not commit.
func New(db *badger.DB, version uint64, root chain.Hash) (*State, error) {
	return Open(db, version, root, Options{})
}

// Open is New with options. It loads the newest snapshot at or before
// version and replays the changesets after it, checking each version's
// recorded root and the head root; a damaged snapshot node or changeset is
// an error naming it.
func Open(db *badger.DB, version uint64, root chain.Hash, opts Options) (*State, error) {
	if db == nil {
		return nil, errors.New("state: nil database")
	}
	s := &State{db: db, nodes: newNodeDB(nodeCacheSize), values: newValueCache(version), opts: opts.withDefaults(),
		version: version, root: root, minProof: version}
	stored, err := s.rootAt(version)
	if err != nil {
		return nil, err
	}
	if stored != root {
		return nil, fmt.Errorf("%w: version %d has root %s, caller says %s", ErrRootMismatch, version, stored, root)
	}
	if err := s.recover(); err != nil {
		return nil, err
	}
	if root == (chain.Hash{}) {
		s.indexed = s.opts.RangeProofs
	} else if s.indexed, err = s.hasHead(root); err != nil {
		return nil, fmt.Errorf("state: open at version %d: %w", version, err)
	}
	return s, nil
}

// Indexed reports whether the state commits the order of its keys (range
// proofs).
func (s *State) Indexed() bool { return s.indexed }

// recover rebuilds the in-memory trie nodes of the versions after the
// newest snapshot by replaying their changesets. A database without a
// snapshot record is empty, or was written before snapshots existed
// (every version persisted its trie nodes): either way Badger holds the
// head trie.
func (s *State) recover() error {
	head, want := s.version, s.root
	txn := s.db.NewTransactionAt(head, false)
	defer txn.Discard()
	item, err := txn.Get([]byte(snapshotKey))
	if errors.Is(err, badger.ErrKeyNotFound) {
		s.needSnap = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("state: read snapshot record: %w", err)
	}
	snapV := item.Version()
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return fmt.Errorf("state: read snapshot record: %w", err)
	}
	if len(raw) != hashLen {
		return fmt.Errorf("%w: snapshot record at version %d has %d bytes", ErrCorruptNode, snapV, len(raw))
	}
	var root chain.Hash
	copy(root[:], raw)
	s.minProof = snapV

	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte(changesetPrefix)
	it := txn.NewIterator(opts)
	defer it.Close()
	prev := snapV
	for it.Seek(opts.Prefix); it.ValidForPrefix(opts.Prefix); it.Next() {
		it := it.Item()
		k := it.Key()
		if len(k) != len(changesetPrefix)+8 {
			return fmt.Errorf("%w: key %q", ErrCorruptChangeset, k)
		}
		base, ver := binary.BigEndian.Uint64(k[len(changesetPrefix):]), it.Version()
		if base < snapV {
			continue // superseded by the snapshot
		}
		if base != prev || ver <= base {
			return fmt.Errorf("%w: the changeset after version %d is missing (found one on %d at version %d)", ErrCorruptChangeset, prev, base, ver)
		}
		raw, err := it.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("state: read changeset of version %d: %w", ver, err)
		}
		cs, err := decodeChangeset(raw)
		if err != nil {
			return fmt.Errorf("changeset of version %d: %w", ver, err)
		}
		next, tree, nodes, err := s.applyChanges(root, s.tree, cs)
		if err != nil {
			return fmt.Errorf("state: replay changeset of version %d on the snapshot at %d: %w", ver, snapV, err)
		}
		if rec, ok, err := s.storedRoot(ver); err != nil {
			return err
		} else if ok && rec != next {
			return fmt.Errorf("%w: replaying the changeset of version %d gives root %s, recorded %s (damaged changeset or snapshot at %d)",
				ErrRootMismatch, ver, next, rec, snapV)
		}
		s.nodes.mu.Lock()
		s.nodes.apply(ver, nodes)
		s.expireLocked(ver)
		s.nodes.mu.Unlock()
		s.sinceSnap = append(s.sinceSnap, base)
		root, prev, s.tree = next, ver, tree
	}
	if prev != head {
		return fmt.Errorf("%w: changesets end at version %d, head is %d", ErrCorruptChangeset, prev, head)
	}
	if root != want {
		return fmt.Errorf("%w: snapshot at %d plus changesets gives %s, head %d has %s", ErrRootMismatch, snapV, root, head, want)
	}
	return nil
}

// Head returns the committed version and its root.
func (s *State) Head() (uint64, chain.Hash) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version, s.root
}

// storedRoot reads RootKey at version (the zero hash if none); exact
// reports that it was written at exactly that version.
func (s *State) storedRoot(version uint64) (h chain.Hash, exact bool, err error) {
	txn := s.db.NewTransactionAt(version, false)
	defer txn.Discard()
	item, err := txn.Get([]byte(RootKey))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return chain.Hash{}, false, nil
	}
	if err != nil {
		return chain.Hash{}, false, fmt.Errorf("state: read root at %d: %w", version, err)
	}
	err = item.Value(func(v []byte) error {
		if len(v) != hashLen {
			return fmt.Errorf("%w: stored root has %d bytes", ErrCorruptNode, len(v))
		}
		copy(h[:], v)
		return nil
	})
	return h, err == nil && item.Version() == version, err
}

// Root returns the state root of a committed version (the zero hash for any
// version before the first commit). Versions after the head are unknown.
func (s *State) Root(version uint64) (chain.Hash, error) {
	head, root := s.Head()
	switch {
	case version == head:
		return root, nil
	case version > head:
		return chain.Hash{}, fmt.Errorf("%w: %d is after head %d", ErrVersion, version, head)
	}
	return s.rootAt(version)
}

// rootAt reads the newest root record at or before version.
func (s *State) rootAt(version uint64) (chain.Hash, error) {
	h, _, err := s.storedRoot(version)
	return h, err
}

// Branch returns a writable overlay on the committed head.
func (s *State) Branch() *Branch {
	version, root := s.Head()
	return &Branch{
		version: version,
		root:    root,
		base:    s.reader(version),
		cache:   make(map[string][]byte),
		writes:  make(map[string]entry),
	}
}

// Reader returns a read-only view of committed state at version (a Badger
// read at that timestamp). Keys are state keys, without the "s/" prefix.
// It is cheap: make one per request rather than sharing it between
// goroutines.
func (s *State) Reader(version uint64) chain.KVReader {
	return view{s.reader(version)}
}

func (s *State) reader(version uint64) *reader {
	return &reader{txn: s.db.NewTransactionAt(version, false), version: version, values: s.values}
}

// Pending is a staged, uncommitted new version: its root and the writes
// that make it durable.
type Pending struct {
	baseVersion uint64
	baseRoot    chain.Hash
	root        chain.Hash
	values      []kvOp
	changes     []change // flat keys
	links       []change // next-key records (trie only), sorted
	nodes       []nodeChange
	tree        *tnode // the resident top of the new trie

	// A snapshot: every live node not yet in Badger, the persisted nodes
	// that left the proof window, the changesets it supersedes.
	snapshot   bool
	snapNodes  []kvOp
	snapDels   []digest
	staleCsets []uint64
}

type kvOp struct {
	key, val []byte
	del      bool
}

// Root is the state root after the staged changes.
func (p *Pending) Root() chain.Hash { return p.root }

// Snapshot reports whether p writes a snapshot of the trie nodes.
func (p *Pending) Snapshot() bool { return p.snapshot }

// WriteTo adds the staged writes to the block's write batch: the flat
// values, the root record and either the changeset (one record) or, every
// Options.SnapshotEvery commits, a snapshot (new trie nodes, deletion of
// nodes out of the proof window, deletion of the changesets it
// supersedes). Old flat values stay readable until Badger discards them.
func (p *Pending) WriteTo(w chain.KVWriter) error { return p.write(w, true) }

// WriteToArchive is WriteTo for a node that never discards old versions:
// a snapshot does not delete dead trie nodes (their deletion would only
// write tombstones, as nothing is ever discarded). Content-addressed
// nodes make the two forms interchangeable: the same root reads the same
// nodes either way.
func (p *Pending) WriteToArchive(w chain.KVWriter) error { return p.write(w, false) }

func (p *Pending) write(w chain.KVWriter, deleteOrphans bool) error {
	for _, op := range p.values {
		var err error
		if op.del {
			err = w.Delete(op.key)
		} else {
			err = w.Set(op.key, op.val)
		}
		if err != nil {
			return fmt.Errorf("state: write %q: %w", op.key, err)
		}
	}
	root := p.root
	if !p.snapshot {
		if err := w.Set(changesetKey(p.baseVersion), encodeChangeset(p.trieChanges())); err != nil {
			return fmt.Errorf("state: write changeset: %w", err)
		}
	} else {
		for _, op := range p.snapNodes {
			if err := w.Set(op.key, op.val); err != nil {
				return fmt.Errorf("state: write trie node: %w", err)
			}
		}
		if deleteOrphans {
			for _, d := range p.snapDels {
				if err := w.Delete(nodeKey(d[:])); err != nil {
					return fmt.Errorf("state: delete trie node: %w", err)
				}
			}
		}
		for _, b := range p.staleCsets {
			if err := w.Delete(changesetKey(b)); err != nil {
				return fmt.Errorf("state: delete changeset: %w", err)
			}
		}
		if err := w.Set([]byte(snapshotKey), root[:]); err != nil {
			return fmt.Errorf("state: write snapshot record: %w", err)
		}
	}
	if err := w.Set([]byte(RootKey), root[:]); err != nil {
		return fmt.Errorf("state: write root: %w", err)
	}
	return nil
}

// trieChanges are the links then the flat changes: every trie key, in
// ascending order (a next-key record's key starts with 0x00, a state
// key never does).
func (p *Pending) trieChanges() []change {
	if len(p.links) == 0 {
		return p.changes
	}
	return append(append(make([]change, 0, len(p.links)+len(p.changes)), p.links...), p.changes...)
}

func changesetKey(base uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(changesetPrefix), base)
}

// Stage applies a top-level branch's net changes, in ascending key order,
// to a trie opened at the committed root and returns the new root with the
// writes to persist. Nothing is written: several candidates may be staged
// from the same head and only the committed one takes effect.
func (s *State) Stage(b *Branch) (*Pending, error) {
	if b.parent != nil {
		return nil, ErrNotRoot
	}
	if b.closed {
		return nil, ErrClosed
	}
	s.mu.RLock()
	version, root, tree := s.version, s.root, s.tree
	s.mu.RUnlock()
	if b.version != version || b.root != root {
		return nil, fmt.Errorf("%w: branch at %d, head at %d", ErrStaleBranch, b.version, version)
	}
	keys := make([]string, 0, len(b.writes))
	for k := range b.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	changes := make([]change, 0, len(keys))
	values := make([]kvOp, 0, len(keys))
	var created map[string]bool
	if s.indexed {
		created = map[string]bool{}
	}
	for _, k := range keys {
		e := b.writes[k]
		if created != nil && !e.del {
			old, err := b.committed(k)
			if err != nil {
				return nil, err
			}
			if old == nil {
				created[k] = true
			}
		}
		if e.del {
			old, err := b.committed(k)
			if err != nil {
				return nil, err
			}
			if old == nil {
				continue // never committed: nothing to remove
			}
			changes = append(changes, change{key: k})
			values = append(values, kvOp{key: valueKey(k), del: true})
			continue
		}
		changes = append(changes, change{key: k, val: e.val})
		values = append(values, kvOp{key: valueKey(k), val: e.val})
	}
	p := &Pending{baseVersion: version, baseRoot: root, values: values, changes: changes}
	if s.indexed {
		p.links = linkChanges(b.base.txn, changes, created, root == chain.Hash{})
	}
	newRoot, newTree, nodes, err := s.applyChanges(root, tree, p.trieChanges())
	if err != nil {
		return nil, err
	}
	p.root, p.tree, p.nodes = newRoot, newTree, nodes
	s.planSnapshot(p)
	return p, nil
}

// applyChanges applies changes (ascending, unique keys) to the trie at
// root (tree: its resident top, or nil) with the batched updater
// (batch.go) and returns the new root, its resident top and the trie's
// node operations.
func (s *State) applyChanges(root chain.Hash, tree *tnode, changes []change) (newRoot chain.Hash, newTree *tnode, nodes []nodeChange, err error) {
	defer func() {
		// A corrupt database must surface as an error, not bring the node
		// down mid-block.
		if r := recover(); r != nil {
			newRoot, newTree, nodes, err = chain.Hash{}, nil, nil, fmt.Errorf("%w: %v", ErrCorruptNode, r)
		}
	}()
	ns := s.newNodeStore()
	defer ns.discard()
	return applyBatch(ns, root, tree, changes)
}

// planSnapshot makes p a snapshot if one is due: the first commit after
// opening a database without a snapshot record (new, or written before
// snapshots existed), then every Options.SnapshotEvery. It assumes p is committed at the next
// version (the store's heights are consecutive); a later version only
// keeps dead nodes longer.
func (s *State) planSnapshot(p *Pending) {
	s.mu.RLock()
	due := s.needSnap || len(s.sinceSnap)+1 >= s.opts.SnapshotEvery
	stale := slices.Clone(s.sinceSnap)
	s.mu.RUnlock()
	if !due {
		return
	}
	p.snapshot, p.staleCsets = true, stale
	byDigest := make(map[digest]*nodeChange, len(p.nodes))
	for i := range p.nodes {
		byDigest[p.nodes[i].digest] = &p.nodes[i]
	}
	d := s.nodes
	d.mu.RLock()
	defer d.mu.RUnlock()
	// Map order does not matter: each key is written once, in one batch.
	for dg, m := range d.mem {
		if c, ok := byDigest[dg]; m.died != 0 || ok && c.enc == nil {
			continue
		}
		p.snapNodes = append(p.snapNodes, kvOp{key: nodeKey(dg[:]), val: m.enc})
	}
	for _, c := range p.nodes {
		if m, ok := d.mem[c.digest]; c.enc == nil || ok && m.died == 0 {
			continue
		}
		p.snapNodes = append(p.snapNodes, kvOp{key: nodeKey(c.digest[:]), val: c.enc})
	}
	next := p.baseVersion + 1
	for dg, v := range d.doomed {
		if c, ok := byDigest[dg]; ok && c.enc != nil {
			continue // recreated by p
		}
		if v+uint64(s.opts.ProofWindow) <= next {
			p.snapDels = append(p.snapDels, dg)
		}
	}
}

// Committed advances the head once the store has durably written p at
// version (its Badger commit timestamp). p must have been staged on the
// current head, which makes any other candidate staged from the same head
// stale.
func (s *State) Committed(p *Pending, version uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.baseVersion != s.version || p.baseRoot != s.root {
		return fmt.Errorf("%w: pending staged at %d, head at %d", ErrStaleBranch, p.baseVersion, s.version)
	}
	if version <= s.version {
		return fmt.Errorf("%w: commit version %d not after head %d", ErrVersion, version, s.version)
	}
	d := s.nodes
	d.mu.Lock()
	d.apply(version, p.nodes)
	if p.snapshot {
		d.snapshotted(p.snapDels)
		s.sinceSnap = s.sinceSnap[:0]
		s.needSnap = false
	} else {
		s.sinceSnap = append(s.sinceSnap, p.baseVersion)
	}
	s.expireLocked(version)
	d.mu.Unlock()
	s.values.commit(p.baseVersion, version, p.changes)
	s.version, s.root, s.tree = version, p.root, p.tree
	return nil
}

// expireLocked frees mem nodes that left the proof window at head version.
// Caller holds s.nodes.mu.
func (s *State) expireLocked(version uint64) {
	if w := uint64(s.opts.ProofWindow); version > w {
		s.nodes.expire(version - w)
	}
}

func valueKey(k string) []byte {
	out := make([]byte, 0, len(valuePrefix)+len(k))
	return append(append(out, valuePrefix...), k...)
}

// importTrie opens the trie at root over ns.
func importTrie(ns *nodeStore, root chain.Hash) *smt.SMT {
	return smt.ImportSparseMerkleTrie(ns, sha256.New(), root[:])
}

func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return ErrEmptyKey
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: %d bytes, max %d", ErrKeyTooLong, len(key), MaxKeyLen)
	case key[0] == linkByte:
		return ErrReservedKey
	}
	return nil
}

// reader reads committed values at one version: from the value cache
// while that version is the head, else through one Badger read
// transaction. Managed-mode read transactions hold no resources, so it
// needs no Close. Values it returns are shared with the cache (Branch
// does not modify them); the exported view copies them.
type reader struct {
	txn     *badger.Txn
	version uint64
	values  *valueCache
}

// view is the chain.KVReader that Reader returns.
type view struct{ r *reader }

func (v view) Get(key []byte) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	val, err := v.r.get(string(key))
	if val == nil || err != nil {
		return nil, err
	}
	return bytes.Clone(val), nil
}

func (v view) Iterate(prefix []byte, fn func(key, value []byte) (bool, error)) error {
	return v.r.iterate(prefix, nil, fn)
}

func (r *reader) get(k string) ([]byte, error) {
	if v, ok := r.values.get(r.version, k); ok {
		return v, nil
	}
	v, err := r.load(k)
	if err == nil {
		r.values.put(r.version, k, v)
	}
	return v, err
}

func (r *reader) load(k string) ([]byte, error) {
	item, err := r.txn.Get(valueKey(k))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: get %q: %w", k, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("state: get %q: %w", k, err)
	}
	return v, nil
}

// iterate walks committed keys with prefix in ascending order. overlay,
// sorted and deduplicated, is merged in: its entries shadow committed ones
// and its deletions hide them.
func (r *reader) iterate(prefix []byte, overlay []overlayEntry, fn func(key, value []byte) (bool, error)) error {
	full := valueKey(string(prefix))
	opts := badger.DefaultIteratorOptions
	opts.Prefix = full
	opts.PrefetchValues = false
	it := r.txn.NewIterator(opts)
	defer it.Close()

	emit := func(e overlayEntry) (bool, error) {
		if e.del {
			return false, nil
		}
		return fn([]byte(e.key), bytes.Clone(e.val))
	}
	i := 0
	for it.Seek(full); it.ValidForPrefix(full); it.Next() {
		item := it.Item()
		k := string(item.Key()[len(valuePrefix):])
		for i < len(overlay) && overlay[i].key < k {
			if stop, err := emit(overlay[i]); stop || err != nil {
				return err
			}
			i++
		}
		if i < len(overlay) && overlay[i].key == k {
			stop, err := emit(overlay[i])
			i++
			if stop || err != nil {
				return err
			}
			continue
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("state: iterate %q: %w", k, err)
		}
		if stop, err := fn([]byte(k), v); stop || err != nil {
			return err
		}
	}
	for ; i < len(overlay); i++ {
		if stop, err := emit(overlay[i]); stop || err != nil {
			return err
		}
	}
	return nil
}

type overlayEntry struct {
	key string
	entry
}
