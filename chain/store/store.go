package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"

	"github.com/dure-network/dure/chain"
)

// Errors returned by the store. Every error that comes from a damaged data
// directory wraps ErrCorrupt; absent heights, IDs and txs wrap ErrNotFound.
var (
	ErrCorrupt            = errors.New("store: data directory is corrupt")
	ErrNotFound           = fmt.Errorf("store: %w", chain.ErrNotFound)
	ErrPruned             = fmt.Errorf("%w (pruned)", ErrNotFound)
	ErrGenesisMismatch    = errors.New("store: data directory was made from a different genesis")
	ErrNotInitialized     = errors.New("store: no genesis committed yet")
	ErrAlreadyInitialized = errors.New("store: genesis already committed")
	ErrOutOfOrder         = errors.New("store: block does not extend the head")
	ErrBadCommitInput     = errors.New("store: inconsistent block commit")
	ErrReservedKey        = errors.New("store: state write to a reserved key prefix")
	ErrLocked             = errors.New("store: data directory is in use by another process")
	ErrClosed             = errors.New("store: closed")
)

// Options configure Open.
type Options struct {
	// Logger receives Badger's warnings and errors and the store's own
	// notices. Nil discards them.
	Logger *slog.Logger
	// KeepRecent is how many recent heights keep their blocks and state
	// versions; 0 keeps everything (archive node).
	KeepRecent uint64
	// Codec is the chain codec; nil makes a fresh one.
	Codec *chain.Codec
}

// Store is the node's Badger database: blocks, commits, results, indexes
// and (through the commit callback and DB) the versioned state. It is safe
// for concurrent use; commits are serialised.
type Store struct {
	db    *badger.DB
	dir   string
	codec *chain.Codec
	log   *slog.Logger
	keep  uint64

	mu       sync.Mutex // serialises CommitGenesis/CommitBlock
	valsHash chain.Hash // hash of the newest stored validator set (under mu)
	commits  uint64     // commits since open (under mu), paces value-log GC

	head   atomic.Pointer[Head] // nil until genesis
	base   atomic.Uint64        // lowest height whose block data is kept
	closed atomic.Bool
	gc     sync.WaitGroup
	gcBusy atomic.Bool
}

// Open opens (or creates) the store in dir. A damaged directory gives an
// error wrapping ErrCorrupt, never a panic.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Codec == nil {
		c, err := chain.NewCodec()
		if err != nil {
			return nil, err
		}
		opts.Codec = c
	}
	if err := checkAccess(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		if IsAccessError(err) {
			return nil, accessErr(dir, err)
		}
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	db, err := openBadger(dir, opts.Logger, opts.KeepRecent)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, dir: dir, codec: opts.Codec, log: opts.Logger, keep: opts.KeepRecent}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func openBadger(dir string, log *slog.Logger, keep uint64) (db *badger.DB, err error) {
	// Badger panics on some kinds of damage (for example a garbled table
	// index); a node operator must get an error that says what to do.
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, corrupt(dir, fmt.Errorf("badger panicked while opening: %v", r))
		}
	}()
	opt := badgerOptions(dir, log, keep)
	if err := removeEmptyMemtables(dir, func(p string) {
		log.Warn("removed an empty memtable file left by a crash while it was being created", "file", p)
	}); err != nil {
		return nil, err
	}
	if err := checkTables(dir, opt); err != nil {
		return nil, err
	}
	db, err = badger.OpenManaged(opt)
	if err == nil {
		return db, nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Cannot acquire directory lock"):
		return nil, fmt.Errorf("%w: %s: %v (stop the other dure node using this home directory)", ErrLocked, dir, err)
	case IsAccessError(err):
		return nil, accessErr(dir, err)
	}
	return nil, corrupt(dir, err)
}

func corrupt(dir string, cause error) error {
	return fmt.Errorf("%w: %s: %v; restore this directory from a backup, or remove it and re-sync the chain from peers",
		ErrCorrupt, dir, cause)
}

// load reads and checks the head record: its block must be present, decode
// and have the head's height and ID.
func (s *Store) load() error {
	txn := s.db.NewTransactionAt(math.MaxUint64, false)
	defer txn.Discard()
	raw, err := get(txn, keyHead)
	if errors.Is(err, ErrNotFound) {
		if s.initialized() {
			// Badger opened but lost the head: a damaged MANIFEST makes
			// it drop whole tables. Starting over as "empty" would hide
			// that from the operator.
			return corrupt(s.dir, errors.New("the directory was initialised but its head record is gone"))
		}
		return s.dropUnfinishedGenesis()
	}
	if err != nil {
		return corrupt(s.dir, fmt.Errorf("read head: %w", err))
	}
	h, err := decodeHead(s.codec, raw)
	if err != nil {
		return corrupt(s.dir, err)
	}
	rtxn := s.db.NewTransactionAt(TS(h.Height), false)
	defer rtxn.Discard()
	g, err := get(rtxn, keyGenesis)
	if err != nil || !bytes.Equal(g, h.GenesisHash[:]) {
		return corrupt(s.dir, fmt.Errorf("genesis record missing or disagrees with head (%v)", err))
	}
	base := uint64(1)
	if v, err := get(rtxn, keyBase); err == nil {
		if base, err = u64(v); err != nil {
			return corrupt(s.dir, err)
		}
	} else if !errors.Is(err, ErrNotFound) {
		return corrupt(s.dir, err)
	}
	if h.Height > 0 {
		braw, err := get(rtxn, heightKey(pfxBlock, h.Height))
		if err == nil {
			braw, err = unpack(braw)
		}
		if err != nil {
			return corrupt(s.dir, fmt.Errorf("head block %d: %w", h.Height, err))
		}
		b, err := chain.DecodeBlock(s.codec, braw)
		if err != nil {
			return corrupt(s.dir, fmt.Errorf("head block %d: %w", h.Height, err))
		}
		if b.Header.Height != h.Height || b.Header.ID(s.codec) != h.BlockID {
			return corrupt(s.dir, fmt.Errorf("head block %d has height %d and id %s, head says %s",
				h.Height, b.Header.Height, b.Header.ID(s.codec), h.BlockID))
		}
		if _, err := get(rtxn, heightKey(pfxCommit, h.Height)); err != nil {
			return corrupt(s.dir, fmt.Errorf("seen commit for head %d: %w", h.Height, err))
		}
	}
	vs, _, err := s.valsAt(rtxn, h.Height+1)
	if err != nil {
		return corrupt(s.dir, fmt.Errorf("validator set for height %d: %w", h.Height+1, err))
	}
	s.valsHash = vs.Hash(s.codec)
	if !s.initialized() { // crash between the genesis head and the marker
		if err := s.markInitialized(); err != nil {
			return err
		}
	}
	s.base.Store(base)
	s.head.Store(&h)
	return nil
}

// DB is the shared Badger handle (chain/state reads and writes its own
// prefixes through it).
func (s *Store) DB() *badger.DB { return s.db }

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }

// Close waits for background value-log GC and closes Badger.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gc.Wait()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.dir, err)
	}
	return nil
}

// Head returns the committed tip; the zero Head before genesis (see
// Initialized).
func (s *Store) Head() Head {
	if h := s.head.Load(); h != nil {
		return *h
	}
	return Head{}
}

// Initialized reports whether genesis has been committed.
func (s *Store) Initialized() bool { return s.head.Load() != nil }

// ReadTS is the Badger read timestamp of the committed head: TS(head
// height), or 0 before genesis (nothing is visible at 0).
func (s *Store) ReadTS() uint64 {
	h := s.head.Load()
	if h == nil {
		return 0
	}
	return TS(h.Height)
}

// Base is the lowest height whose block data is kept (1 on archive nodes).
func (s *Store) Base() uint64 { return s.base.Load() }

// GenesisHash is the hash of the genesis this directory was made from.
func (s *Store) GenesisHash() (chain.Hash, bool) {
	h := s.head.Load()
	if h == nil {
		return chain.Hash{}, false
	}
	return h.GenesisHash, true
}

// CheckGenesis returns nil if the directory was made from genesisHash,
// ErrNotInitialized if it is empty, and ErrGenesisMismatch otherwise.
func (s *Store) CheckGenesis(genesisHash chain.Hash) error {
	have, ok := s.GenesisHash()
	switch {
	case !ok:
		return ErrNotInitialized
	case have != genesisHash:
		return fmt.Errorf("%w: %s holds genesis %s, config has %s; use a fresh home directory for another chain",
			ErrGenesisMismatch, s.dir, have, genesisHash)
	}
	return nil
}

func get(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// view runs fn in a read transaction at the head.
func (s *Store) view(fn func(txn *badger.Txn) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	txn := s.db.NewTransactionAt(s.ReadTS(), false)
	defer txn.Discard()
	return fn(txn)
}

// markerFile sits next to Badger's files once genesis is durable. Badger
// answers a badly damaged directory by dropping tables, which can make it
// look empty; the marker tells that apart from a fresh directory.
const markerFile = "DURE_INITIALIZED"

func (s *Store) initialized() bool {
	_, err := os.Stat(filepath.Join(s.dir, markerFile))
	return err == nil
}

func (s *Store) markInitialized() error {
	p := filepath.Join(s.dir, markerFile)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("store: write %s: %w", p, err)
	}
	_, werr := f.WriteString("this directory holds an initialised dure chain; do not delete this file alone\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("store: write %s: %w", p, err)
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("store: sync %s: %w", s.dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", s.dir, err)
	}
	return nil
}

// dropUnfinishedGenesis clears a directory whose genesis write never got
// its head record: those versions are invisible, but a later genesis that
// does not overwrite every key would otherwise expose the leftovers.
func (s *Store) dropUnfinishedGenesis() error {
	txn := s.db.NewTransactionAt(math.MaxUint64, false)
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
	it.Rewind()
	empty := !it.Valid()
	it.Close()
	txn.Discard()
	if empty {
		return nil
	}
	s.log.Warn("removing an unfinished genesis write", "dir", s.dir)
	if err := s.db.DropAll(); err != nil {
		return fmt.Errorf("store: clear unfinished genesis in %s: %w", s.dir, err)
	}
	return nil
}
