package p2p

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dure-network/dure/chain"
)

// Tx batch limits: what a tx-topic message may hold. A batch is a CBOR
// array of byte strings, each one raw transaction.
const (
	MaxTxBatchLen   = 1024
	MaxTxBatchBytes = 1 << 20
)

// EncodeTxBatch encodes raw transactions as one tx-topic message: a chain
// tx list (chain.AppendTxList: a definite-length CBOR array of byte
// strings with shortest heads, the core deterministic encoding).
func EncodeTxBatch(txs [][]byte) ([]byte, error) {
	if len(txs) == 0 || len(txs) > MaxTxBatchLen {
		return nil, fmt.Errorf("%w: batch of %d txs (1..%d)", ErrMalformed, len(txs), MaxTxBatchLen)
	}
	for i, tx := range txs {
		if len(tx) == 0 || len(tx) > chain.MaxTxBytes {
			return nil, fmt.Errorf("%w: tx %d is %d bytes (1..%d)", ErrMessageTooLarge, i, len(tx), chain.MaxTxBytes)
		}
	}
	size := chain.TxListSize(txs)
	if size > MaxTxBatchBytes {
		return nil, fmt.Errorf("%w: tx batch %d bytes, max %d", ErrMessageTooLarge, size, MaxTxBatchBytes)
	}
	return chain.AppendTxList(make([]byte, 0, size), txs), nil
}

// DecodeTxBatch decodes a tx-topic message. It accepts only what
// EncodeTxBatch produces: at most MaxTxBatchBytes, 1..MaxTxBatchLen entries
// of 1..chain.MaxTxBytes bytes each, shortest-form heads, no indefinite
// lengths, no trailing bytes (chain.DecodeTxList under those rules, the
// reader the API's CBOR batches use too). Each returned tx is a copy in
// its own allocation (capacity = length), not a slice of data: the mempool
// keeps an admitted tx, and a slice would keep the whole message (up to
// MaxTxBatchBytes, maybe all refused junk) alive beyond what the pool's
// byte bound counts.
func DecodeTxBatch(data []byte) ([][]byte, error) {
	if len(data) > MaxTxBatchBytes {
		return nil, fmt.Errorf("%w: tx batch %d bytes, max %d", ErrMessageTooLarge, len(data), MaxTxBatchBytes)
	}
	txs, err := chain.DecodeTxList(data, chain.TxListRules{MaxTxs: MaxTxBatchLen, MaxTxBytes: chain.MaxTxBytes,
		NonEmpty: true, Shortest: true})
	if err != nil {
		return nil, fmt.Errorf("%w: tx batch: %w", ErrMalformed, err)
	}
	return txs, nil
}

// txBatcher collects PublishTx calls into batches. A batch leaves when it
// reaches the count or byte threshold, or when the oldest tx in it has
// waited the flush interval. Full batches are handed to one publisher
// goroutine through a bounded channel: a sender that outruns the network
// blocks instead of losing transactions, and batches leave in order.
type txBatcher struct {
	maxCount int
	maxBytes int
	interval time.Duration
	out      chan [][]byte
	done     <-chan struct{}

	mu      sync.Mutex
	pending [][]byte
	bytes   int
	timer   *time.Timer
	gen     uint64 // bumps on every flush so a stale timer does nothing
}

func newTxBatcher(count, bytes int, interval time.Duration, done <-chan struct{}) *txBatcher {
	return &txBatcher{maxCount: count, maxBytes: bytes, interval: interval,
		out: make(chan [][]byte, 64), done: done}
}

func (b *txBatcher) add(ctx context.Context, raw []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) > 0 && b.bytes+len(raw) > b.maxBytes {
		if err := b.flushLocked(ctx); err != nil {
			return err
		}
	}
	b.pending = append(b.pending, raw)
	b.bytes += len(raw)
	if len(b.pending) >= b.maxCount || b.bytes >= b.maxBytes {
		return b.flushLocked(ctx)
	}
	if len(b.pending) == 1 {
		gen := b.gen
		b.timer = time.AfterFunc(b.interval, func() { b.flushTimer(gen) })
	}
	return nil
}

func (b *txBatcher) flushTimer(gen uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen != b.gen || len(b.pending) == 0 {
		return
	}
	_ = b.flushLocked(context.Background()) // only fails when the node closes
}

// flushLocked hands the pending batch to the publisher. It blocks while the
// publisher is behind, which is the back-pressure PublishTx relies on.
func (b *txBatcher) flushLocked(ctx context.Context) error {
	batch := b.pending
	b.pending, b.bytes = nil, 0
	b.gen++
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	select {
	case b.out <- batch:
		return nil
	case <-b.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("publish tx: %w (%d txs dropped)", ctx.Err(), len(batch))
	}
}

// flush pushes out whatever is pending (used on shutdown and by tests).
func (b *txBatcher) flush(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		return nil
	}
	return b.flushLocked(ctx)
}
