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

// EncodeTxBatch encodes raw transactions as one tx-topic message: a CBOR
// array (definite length) of byte strings, in shortest-form heads, which is
// the core deterministic encoding.
func EncodeTxBatch(txs [][]byte) ([]byte, error) {
	if len(txs) == 0 || len(txs) > MaxTxBatchLen {
		return nil, fmt.Errorf("%w: batch of %d txs (1..%d)", ErrMalformed, len(txs), MaxTxBatchLen)
	}
	size := 9
	for i, tx := range txs {
		if len(tx) == 0 || len(tx) > chain.MaxTxBytes {
			return nil, fmt.Errorf("%w: tx %d is %d bytes (1..%d)", ErrMessageTooLarge, i, len(tx), chain.MaxTxBytes)
		}
		size += 9 + len(tx)
	}
	out := appendCBORHead(make([]byte, 0, size), cborArray, uint64(len(txs)))
	for _, tx := range txs {
		out = appendCBORHead(out, cborBytes, uint64(len(tx)))
		out = append(out, tx...)
	}
	if len(out) > MaxTxBatchBytes {
		return nil, fmt.Errorf("%w: tx batch %d bytes, max %d", ErrMessageTooLarge, len(out), MaxTxBatchBytes)
	}
	return out, nil
}

// DecodeTxBatch decodes a tx-topic message. It accepts only what
// EncodeTxBatch produces: at most MaxTxBatchBytes, 1..MaxTxBatchLen entries
// of 1..chain.MaxTxBytes bytes each, shortest-form heads, no indefinite
// lengths, no trailing bytes. Each returned tx is a copy in its own
// allocation (capacity = length), not a slice of data: the mempool keeps
// an admitted tx, and a slice would keep the whole message (up to
// MaxTxBatchBytes, maybe all refused junk) alive beyond what the pool's
// byte bound counts.
func DecodeTxBatch(data []byte) ([][]byte, error) {
	if len(data) > MaxTxBatchBytes {
		return nil, fmt.Errorf("%w: tx batch %d bytes, max %d", ErrMessageTooLarge, len(data), MaxTxBatchBytes)
	}
	n, rest, err := readCBORHead(data, cborArray)
	if err != nil {
		return nil, fmt.Errorf("%w: tx batch: %v", ErrMalformed, err)
	}
	if n == 0 || n > MaxTxBatchLen {
		return nil, fmt.Errorf("%w: tx batch of %d entries (1..%d)", ErrMalformed, n, MaxTxBatchLen)
	}
	txs := make([][]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		var l uint64
		l, rest, err = readCBORHead(rest, cborBytes)
		if err != nil {
			return nil, fmt.Errorf("%w: tx %d: %v", ErrMalformed, i, err)
		}
		if l == 0 || l > chain.MaxTxBytes || l > uint64(len(rest)) {
			return nil, fmt.Errorf("%w: tx %d: length %d (1..%d, %d left)", ErrMalformed, i, l, chain.MaxTxBytes, len(rest))
		}
		txs = append(txs, rest[:l:l])
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after tx batch", ErrMalformed, len(rest))
	}
	for i, tx := range txs { // copied only once the whole message is well formed
		txs[i] = append(make([]byte, 0, len(tx)), tx...)
	}
	return txs, nil
}

const (
	cborBytes = 2 << 5
	cborArray = 4 << 5
)

func appendCBORHead(b []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(b, major|byte(n))
	case n <= 0xff:
		return append(b, major|24, byte(n))
	case n <= 0xffff:
		return append(b, major|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(b, major|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, major|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// readCBORHead reads a definite-length head of the given major type and
// insists on the shortest encoding, so each batch has one byte form.
func readCBORHead(b []byte, major byte) (uint64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("unexpected end")
	}
	if b[0]&0xe0 != major {
		return 0, nil, fmt.Errorf("major type %d, want %d", b[0]>>5, major>>5)
	}
	info := b[0] & 0x1f
	b = b[1:]
	var width int
	var minimum uint64
	switch {
	case info < 24:
		return uint64(info), b, nil
	case info == 24:
		width, minimum = 1, 24
	case info == 25:
		width, minimum = 2, 0x100
	case info == 26:
		width, minimum = 4, 0x10000
	case info == 27:
		width, minimum = 8, 0x100000000
	default:
		return 0, nil, fmt.Errorf("indefinite or reserved length (info %d)", info)
	}
	if len(b) < width {
		return 0, nil, fmt.Errorf("unexpected end in length")
	}
	var n uint64
	for _, c := range b[:width] {
		n = n<<8 | uint64(c)
	}
	if n < minimum {
		return 0, nil, fmt.Errorf("non-shortest length encoding")
	}
	return n, b[width:], nil
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
