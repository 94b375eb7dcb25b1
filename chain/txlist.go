package chain

import (
	"errors"
	"fmt"
)

// Tx list errors: every error DecodeTxList returns wraps one of them.
var (
	ErrTxListMalformed = errors.New("tx list malformed")
	ErrTxListTooLong   = errors.New("tx list has too many txs")
)

// TxListRules bound what DecodeTxList accepts. A gossip batch takes the
// strict form (p2p: non-empty txs of at most MaxTxBytes, shortest heads,
// so a batch has one byte form); the API's CBOR batch body takes any
// entry length and head width, so that each tx is answered on its own.
type TxListRules struct {
	MaxTxs     int  // most entries; a list needs at least one
	MaxTxBytes int  // longest entry; 0: no bound
	NonEmpty   bool // refuse a zero-length entry
	Shortest   bool // refuse a head not in its shortest form
}

// AppendTxList appends txs as a tx list: a definite-length CBOR array of
// byte strings with shortest heads (the core deterministic encoding of a
// [][]byte, as Codec.Marshal writes it).
func AppendTxList(b []byte, txs [][]byte) []byte {
	b = appendHead(b, cborArray, uint64(len(txs)))
	for _, tx := range txs {
		b = appendHead(b, cborBytes, uint64(len(tx)))
		b = append(b, tx...)
	}
	return b
}

// TxListSize is the length AppendTxList adds for txs.
func TxListSize(txs [][]byte) int {
	n := headSize(uint64(len(txs)))
	for _, tx := range txs {
		n += headSize(uint64(len(tx))) + len(tx)
	}
	return n
}

func headSize(n uint64) int {
	switch {
	case n < 24:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case n <= 0xffffffff:
		return 5
	default:
		return 9
	}
}

// DecodeTxList reads a tx list under r: a definite-length array of
// definite-length byte strings, nothing after it. Each returned tx is a
// copy in its own allocation (capacity = length), made only once the whole
// list is well formed, never a slice of data: a caller that keeps one tx
// (the mempool keeps an admitted tx) does not keep the whole message or
// body alive with it. A count over r.MaxTxs is ErrTxListTooLong (checked
// before anything is allocated for it); any other fault is
// ErrTxListMalformed, naming the entry.
func DecodeTxList(data []byte, r TxListRules) ([][]byte, error) {
	n, rest, err := readTxListHead(data, cborArray, r.Shortest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTxListMalformed, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty list", ErrTxListMalformed)
	}
	if n > uint64(r.MaxTxs) {
		return nil, fmt.Errorf("%w: %d txs, max %d", ErrTxListTooLong, n, r.MaxTxs)
	}
	txs := make([][]byte, 0, n)
	for i := range n {
		var l uint64
		if l, rest, err = readTxListHead(rest, cborBytes, r.Shortest); err != nil {
			return nil, fmt.Errorf("%w: tx %d: %w", ErrTxListMalformed, i, err)
		}
		switch {
		case l > uint64(len(rest)):
			return nil, fmt.Errorf("%w: tx %d: %d bytes, %d left", ErrTxListMalformed, i, l, len(rest))
		case l == 0 && r.NonEmpty:
			return nil, fmt.Errorf("%w: tx %d is empty", ErrTxListMalformed, i)
		case r.MaxTxBytes > 0 && l > uint64(r.MaxTxBytes):
			return nil, fmt.Errorf("%w: tx %d: %d bytes, max %d", ErrTxListMalformed, i, l, r.MaxTxBytes)
		}
		txs = append(txs, rest[:l:l])
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the list", ErrTxListMalformed, len(rest))
	}
	for i, tx := range txs {
		txs[i] = append(make([]byte, 0, len(tx)), tx...)
	}
	return txs, nil
}

var errTxListHead = errors.New("not a definite-length head of the expected type")

// readTxListHead reads one head of major type major (cborArray,
// cborBytes) and returns its argument and the bytes after it; shortest
// refuses a head wider than its argument needs.
func readTxListHead(b []byte, major byte, shortest bool) (uint64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("%w: end of input", errTxListHead)
	}
	if b[0]>>5 != major {
		return 0, nil, fmt.Errorf("%w: major type %d, want %d", errTxListHead, b[0]>>5, major)
	}
	info, b := b[0]&0x1f, b[1:]
	if info < 24 {
		return uint64(info), b, nil
	}
	if info > 27 {
		return 0, nil, fmt.Errorf("%w: indefinite or reserved length (info %d)", errTxListHead, info)
	}
	width := 1 << (info - 24)
	if len(b) < width {
		return 0, nil, fmt.Errorf("%w: truncated length", errTxListHead)
	}
	var n uint64
	for _, c := range b[:width] {
		n = n<<8 | uint64(c)
	}
	if shortest && headSize(n) != 1+width {
		return 0, nil, fmt.Errorf("%w: non-shortest length encoding", errTxListHead)
	}
	return n, b[width:], nil
}
