package mempool

import (
	"container/heap"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/dure-network/dure/chain"
)

// Rejection reasons. The chain sentinels are re-exported so callers can
// branch on either name; every error Add returns wraps exactly one of
// these (or chain.ErrTxMalformed, chain.ErrTxTooLarge, chain.ErrWrongChain,
// chain.ErrBadSignature) with a message saying why.
var (
	ErrFull         = errors.New("mempool full")
	ErrSenderFull   = errors.New("sender has too many pending txs")
	ErrDuplicate    = errors.New("tx already known")
	ErrFeeTooLow    = chain.ErrFeeTooLow
	ErrNonceTooLow  = chain.ErrNonceTooLow
	ErrNonceTooHigh = chain.ErrNonceTooHigh
	ErrAccountState = errors.New("mempool: cannot read account state")
	ErrFeeUnpayable = chain.ErrFeeUnpayable
)

// AccountState is what the mempool needs from committed state. The node
// implements it; it must be safe for concurrent use.
type AccountState interface {
	// NextNonce is the nonce the account's next tx must carry.
	NextNonce(addr chain.Address) (uint64, error)
}

// FeeFunds is optionally implemented by an AccountState: the account's
// balance of the fee denom in committed state. With it, a tx whose MaxFee
// exceeds that balance is refused at admission (ErrFeeUnpayable, checked
// after the signature) instead
// of waiting in the pool until the proposer finds it cannot be included.
// Pending txs of the same sender are not subtracted: a second tx may still
// become unpayable once the first has paid, and the proposer evicts it.
type FeeFunds interface {
	FeeBalance(addr chain.Address) (uint64, error)
}

// Config bounds the mempool. Zero values take the defaults.
type Config struct {
	Codec         *chain.Codec // required
	ChainID       string       // required: txs for other chains are rejected
	MaxTxs        int          // default 50,000
	MaxBytes      int          // default 64 MiB
	MaxPerSender  int          // default 1,000; also the furthest a nonce may run ahead
	MinFee        uint64       // txs offering less MaxFee are rejected
	SeenCacheSize int          // default 100,000 recently seen tx IDs
	// KeyCache keeps senders' expanded public keys for signature checks
	// (nil: the mempool makes one of chain.DefaultKeyCacheSize). The node
	// may share one cache among its verifiers.
	KeyCache *chain.KeyCache
}

// Defaults.
const (
	DefaultMaxTxs        = 50_000
	DefaultMaxBytes      = 64 << 20
	DefaultMaxPerSender  = 1_000
	DefaultSeenCacheSize = 100_000
)

type entry struct {
	dtx    *chain.DecodedTx
	sender chain.Address
	seq    uint64 // arrival order
}

type senderQueue struct {
	next uint64            // account's next nonce as last known
	txs  map[uint64]*entry // by nonce
}

// Mempool holds verified, not yet committed txs, nonce-ordered per sender.
// It is safe for concurrent use; signatures are verified outside its lock.
type Mempool struct {
	cfg  Config
	acct AccountState

	mu      sync.RWMutex
	byID    map[chain.ID]*entry
	senders map[chain.Address]*senderQueue
	bytes   int
	seq     uint64
	seen    *seenCache
}

// New makes a mempool over committed account state.
func New(cfg Config, acct AccountState) *Mempool {
	if cfg.Codec == nil {
		cfg.Codec = chain.MustCodec()
	}
	if cfg.MaxTxs <= 0 {
		cfg.MaxTxs = DefaultMaxTxs
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxPerSender <= 0 {
		cfg.MaxPerSender = DefaultMaxPerSender
	}
	if cfg.SeenCacheSize <= 0 {
		cfg.SeenCacheSize = DefaultSeenCacheSize
	}
	if cfg.KeyCache == nil {
		cfg.KeyCache = chain.NewKeyCache(0)
	}
	return &Mempool{cfg: cfg, acct: acct, byID: make(map[chain.ID]*entry),
		senders: make(map[chain.Address]*senderQueue), seen: newSeenCache(cfg.SeenCacheSize)}
}

// candidate is a tx that passed the stateless and state checks and waits
// for its signature check and insertion.
type candidate struct {
	dtx    *chain.DecodedTx // &d
	d      chain.DecodedTx  // in one allocation with the candidate
	sender chain.Address
	next   uint64
	sb     []byte // sign bytes
}

// Add checks one raw tx and adds it. It returns the tx ID (when the bytes
// were at least hashable) and a wrapped sentinel on rejection.
func (m *Mempool) Add(raw []byte) (chain.ID, error) {
	id, c, err := m.precheck(raw, nil)
	if err != nil {
		return id, err
	}
	if !chain.VerifySigCached(m.cfg.KeyCache, c.dtx.Tx.PubKey, c.sb, c.dtx.Tx.Sig) {
		m.mu.Lock()
		m.seen.put(id, seenBadSig)
		m.mu.Unlock()
		return id, badSig(c.dtx)
	}
	if err := m.checkFee(c); err != nil {
		return id, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return id, m.insertLocked(c)
}

// AddBatch adds many txs (a gossiped batch). Signatures of the txs that
// pass the cheap checks are verified in parallel, GOMAXPROCS workers each
// running batch verification over a chunk. ids[i] and errs[i] answer
// raws[i].
func (m *Mempool) AddBatch(raws [][]byte) ([]chain.ID, []error) {
	ids := make([]chain.ID, len(raws))
	errs := make([]error, len(raws))
	cands := make([]*candidate, len(raws))
	nonces := make(map[chain.Address]uint64) // one state read per sender per batch
	inBatch := make(map[chain.ID]bool, len(raws))
	var todo []int
	for i, raw := range raws {
		id, c, err := m.precheck(raw, nonces)
		ids[i] = id
		if err == nil && inBatch[id] {
			err = fmt.Errorf("%w: %s appears twice in the batch", ErrDuplicate, id)
		}
		if err != nil {
			errs[i] = err
			continue
		}
		inBatch[id] = true
		cands[i] = c
		todo = append(todo, i)
	}
	valid := m.verifyParallel(cands, todo)
	bals := make(map[chain.Address]feeBalance) // one balance read per sender per batch
	for k, i := range todo {
		if valid[k] {
			errs[i] = m.checkFeeCached(cands[i], bals) // state reads outside the lock
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	for k, i := range todo {
		switch {
		case !valid[k]:
			m.seen.put(ids[i], seenBadSig)
			errs[i] = badSig(cands[i].dtx)
		case errs[i] == nil:
			errs[i] = m.insertLocked(cands[i])
		}
	}
	return ids, errs
}

// checkFee refuses a tx whose MaxFee exceeds the sender's fee-denom balance
// (when the AccountState is FeeFunds). It runs after the signature check,
// so a bad signature is reported as such whatever the sender holds (gossip
// penalises bad signatures, not state-dependent refusals).
func (m *Mempool) checkFee(c *candidate) error { return m.checkFeeCached(c, nil) }

// feeBalance is one FeeBalance answer, kept for the rest of a batch.
type feeBalance struct {
	bal uint64
	err error
}

// checkFeeCached is checkFee reading each sender's balance once per batch
// through bals (nil: no cache).
func (m *Mempool) checkFeeCached(c *candidate, bals map[chain.Address]feeBalance) error {
	ff, ok := m.acct.(FeeFunds)
	if !ok || c.dtx.Tx.MaxFee == 0 {
		return nil
	}
	fb, ok := bals[c.sender]
	if !ok {
		fb.bal, fb.err = ff.FeeBalance(c.sender)
		if bals != nil {
			bals[c.sender] = fb
		}
	}
	bal, err := fb.bal, fb.err
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrAccountState, c.sender, err)
	}
	if c.dtx.Tx.MaxFee > bal {
		return fmt.Errorf("%w: max fee %d, %s holds %d", ErrFeeUnpayable, c.dtx.Tx.MaxFee, c.sender, bal)
	}
	return nil
}

func badSig(d *chain.DecodedTx) error {
	return fmt.Errorf("%w: tx %s from %s", chain.ErrBadSignature, d.ID, d.Tx.Sender())
}

// verifyParallel checks the signatures of cands[todo[k]] and returns
// valid[k] for each.
func (m *Mempool) verifyParallel(cands []*candidate, todo []int) []bool {
	valid := make([]bool, len(todo))
	if len(todo) == 0 {
		return valid
	}
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(todo) + workers - 1) / workers
	chunk = max(32, min(chunk, 512)) // batch verification pays off from a few dozen
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for lo := 0; lo < len(todo); lo += chunk {
		hi := min(lo+chunk, len(todo))
		sem <- struct{}{}
		wg.Add(1)
		go func(lo, hi int) {
			defer func() { <-sem; wg.Done() }()
			items := make([]chain.SigItem, 0, hi-lo)
			for _, i := range todo[lo:hi] {
				c := cands[i]
				items = append(items, chain.SigItem{PubKey: c.dtx.Tx.PubKey, Msg: c.sb, Sig: c.dtx.Tx.Sig})
			}
			all, v := chain.VerifyBatchCached(m.cfg.KeyCache, items)
			for k := range items {
				valid[lo+k] = all || v[k]
			}
		}(lo, hi)
	}
	wg.Wait()
	return valid
}

// precheck does everything but the signature: size, duplicate, decode,
// chain, fee, nonce window and capacity. nonces caches NextNonce results
// across a batch (nil for single adds).
func (m *Mempool) precheck(raw []byte, nonces map[chain.Address]uint64) (chain.ID, *candidate, error) {
	if len(raw) > chain.MaxTxBytes {
		return "", nil, fmt.Errorf("%w: %d bytes, max %d", chain.ErrTxTooLarge, len(raw), chain.MaxTxBytes)
	}
	id := chain.IDOf(raw)
	m.mu.RLock()
	_, inPool := m.byID[id]
	st := m.seen.get(id)
	m.mu.RUnlock()
	switch {
	case inPool:
		return id, nil, fmt.Errorf("%w: %s is in the mempool", ErrDuplicate, id)
	case st == seenBadSig:
		return id, nil, fmt.Errorf("%w: tx %s (seen before)", chain.ErrBadSignature, id)
	case st != seenNone:
		return id, nil, fmt.Errorf("%w: %s was seen recently", ErrDuplicate, id)
	}
	tx, err := chain.DecodeTx(m.cfg.Codec, raw)
	if err != nil {
		return id, nil, err
	}
	if tx.ChainID != m.cfg.ChainID {
		return id, nil, fmt.Errorf("%w: tx is for %q, this node runs %q", chain.ErrWrongChain, tx.ChainID, m.cfg.ChainID)
	}
	if tx.MaxFee < m.cfg.MinFee {
		return id, nil, fmt.Errorf("%w: max fee %d, minimum %d", ErrFeeTooLow, tx.MaxFee, m.cfg.MinFee)
	}
	sender := tx.Sender()
	next, ok := nonces[sender]
	if !ok {
		if next, err = m.acct.NextNonce(sender); err != nil {
			return id, nil, fmt.Errorf("%w: %s: %w", ErrAccountState, sender, err)
		}
		if nonces != nil {
			nonces[sender] = next
		}
	}
	if tx.Nonce < next {
		return id, nil, fmt.Errorf("%w: nonce %d, account %s is at %d", ErrNonceTooLow, tx.Nonce, sender, next)
	}
	if tx.Nonce-next > uint64(m.cfg.MaxPerSender) {
		return id, nil, fmt.Errorf("%w: nonce %d is more than %d ahead of account %s at %d",
			ErrNonceTooHigh, tx.Nonce, m.cfg.MaxPerSender, sender, next)
	}
	c := &candidate{d: chain.DecodedTx{Tx: tx, Raw: raw, ID: id}, sender: sender, next: next}
	c.dtx = &c.d
	m.mu.RLock()
	err = m.capacityLocked(c)
	m.mu.RUnlock()
	if err != nil { // don't spend a signature check on a tx that cannot fit
		return id, nil, err
	}
	// raw is canonical (DecodeTx checked): its sign bytes are cut from it
	// rather than encoded again.
	if c.sb, ok = chain.SignBytesOf(raw); !ok {
		if c.sb, err = tx.SignBytes(m.cfg.Codec); err != nil {
			return id, nil, fmt.Errorf("%w: %v", chain.ErrTxMalformed, err)
		}
	}
	return id, c, nil
}

// capacityLocked checks limits and nonce clashes; m.mu is held (R or W).
func (m *Mempool) capacityLocked(c *candidate) error {
	if _, ok := m.byID[c.dtx.ID]; ok {
		return fmt.Errorf("%w: %s is in the mempool", ErrDuplicate, c.dtx.ID)
	}
	if q := m.senders[c.sender]; q != nil {
		if other, ok := q.txs[c.dtx.Tx.Nonce]; ok {
			return fmt.Errorf("%w: %s already has tx %s pending with nonce %d (replacement is not supported)",
				ErrDuplicate, c.sender, other.dtx.ID, c.dtx.Tx.Nonce)
		}
		if len(q.txs) >= m.cfg.MaxPerSender {
			return fmt.Errorf("%w: %s has %d pending, max %d", ErrSenderFull, c.sender, len(q.txs), m.cfg.MaxPerSender)
		}
	}
	if len(m.byID) >= m.cfg.MaxTxs {
		return fmt.Errorf("%w: %d txs, max %d", ErrFull, len(m.byID), m.cfg.MaxTxs)
	}
	if m.bytes+len(c.dtx.Raw) > m.cfg.MaxBytes {
		return fmt.Errorf("%w: %d bytes used, max %d", ErrFull, m.bytes, m.cfg.MaxBytes)
	}
	return nil
}

// insertLocked adds a verified candidate; m.mu is write-locked.
func (m *Mempool) insertLocked(c *candidate) error {
	if err := m.capacityLocked(c); err != nil {
		return err
	}
	q := m.senders[c.sender]
	if q == nil {
		q = &senderQueue{next: c.next, txs: make(map[uint64]*entry)}
		m.senders[c.sender] = q
	}
	q.next = max(q.next, c.next) // state only moves forward
	m.seq++
	e := &entry{dtx: c.dtx, sender: c.sender, seq: m.seq}
	q.txs[c.dtx.Tx.Nonce] = e
	m.byID[c.dtx.ID] = e
	m.bytes += len(c.dtx.Raw)
	m.seen.put(c.dtx.ID, seenVerified)
	c.sb = nil // the entry keeps the candidate (dtx points into it), not its sign bytes
	return nil
}

// removeLocked drops e from the pool.
func (m *Mempool) removeLocked(e *entry) {
	delete(m.byID, e.dtx.ID)
	m.bytes -= len(e.dtx.Raw)
	if q := m.senders[e.sender]; q != nil {
		delete(q.txs, e.dtx.Tx.Nonce)
		if len(q.txs) == 0 {
			delete(m.senders, e.sender)
		}
	}
}

// Remove drops txs the proposer found it cannot include (for example a fee
// the sender cannot pay): left in the pool they would be reaped again for
// every block. They are not marked committed, so the same bytes may be
// submitted again later (after the sender is funded, say).
func (m *Mempool) Remove(ids []chain.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		if e, ok := m.byID[id]; ok {
			m.removeLocked(e)
			m.seen.put(id, seenNone)
		}
	}
}

// Update is called after block height is committed with the IDs of its
// txs: they leave the pool, then every sender's txs below its new next
// nonce are dropped (they can never execute). The rest stay.
func (m *Mempool) Update(height uint64, committed []chain.ID) error {
	m.mu.Lock()
	for _, id := range committed {
		if e, ok := m.byID[id]; ok {
			m.removeLocked(e)
		}
		if m.seen.get(id) == seenNone {
			m.seen.put(id, seenCommitted)
		}
	}
	addrs := make([]chain.Address, 0, len(m.senders))
	for a := range m.senders {
		addrs = append(addrs, a)
	}
	m.mu.Unlock()

	// State reads happen outside the lock; Add and Reap go on meanwhile.
	nexts := make([]uint64, len(addrs))
	var errs []error
	for i, a := range addrs {
		n, err := m.acct.NextNonce(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrAccountState, a, err))
			continue // nexts[i] stays 0: keep its txs, the next Update tries again
		}
		nexts[i] = n
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	for i, a := range addrs {
		q := m.senders[a]
		if q == nil {
			continue
		}
		q.next = max(q.next, nexts[i])
		for n, e := range q.txs {
			if n < q.next {
				m.removeLocked(e)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("mempool: update after height %d: %w", height, errors.Join(errs...))
	}
	return nil
}

// Reap returns executable txs for a proposal: per sender the contiguous
// nonce run starting at the account's next nonce, interleaved across
// senders by arrival order. It stops at maxTxs txs or maxBytes raw bytes
// (<= 0 means no limit); a sender whose next tx does not fit ends its run.
// Equal pool contents give equal results.
func (m *Mempool) Reap(maxTxs, maxBytes int) []*chain.DecodedTx {
	m.mu.RLock()
	defer m.mu.RUnlock()
	h := make(runHeap, 0, len(m.senders))
	for _, q := range m.senders {
		if e, ok := q.txs[q.next]; ok {
			h = append(h, run{q: q, e: e})
		}
	}
	heap.Init(&h)
	var out []*chain.DecodedTx
	size := 0
	for h.Len() > 0 && (maxTxs <= 0 || len(out) < maxTxs) {
		r := &h[0]
		if maxBytes > 0 && size+len(r.e.dtx.Raw) > maxBytes {
			heap.Pop(&h)
			continue
		}
		out = append(out, r.e.dtx)
		size += len(r.e.dtx.Raw)
		if nx, ok := r.q.txs[r.e.dtx.Tx.Nonce+1]; ok {
			r.e = nx
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return out
}

// run is one sender's position in Reap; the heap orders by the arrival of
// each run's next tx (seq is unique, so the order is total).
type run struct {
	q *senderQueue
	e *entry
}

type runHeap []run

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return h[i].e.seq < h[j].e.seq }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(run)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Verified reports whether this mempool checked the signature of the tx
// with this ID (the executor skips re-verifying those). IDs commit to the
// signature bytes, so the answer is about these exact bytes.
func (m *Mempool) Verified(id chain.ID) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.byID[id]
	return ok || m.seen.get(id) == seenVerified
}

// Has reports whether the tx is pending.
func (m *Mempool) Has(id chain.ID) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.byID[id]
	return ok
}

// Get returns a pending tx.
func (m *Mempool) Get(id chain.ID) (*chain.DecodedTx, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.byID[id]
	if !ok {
		return nil, false
	}
	return e.dtx, true
}

// Size returns the number of pending txs and their raw bytes.
func (m *Mempool) Size() (count, bytes int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.byID), m.bytes
}
