package p2p

import (
	"encoding/binary"
	"fmt"
)

// Snapshot (state sync) wire limits.
const (
	// MaxChunkBytes is the most key+value bytes a client may ask for in
	// one chunk; a server sends at most its own chunk size (DefaultChunkBytes
	// unless configured lower) plus one pair.
	MaxChunkBytes = 1 << 20
	// DefaultChunkBytes is the chunk size a client asks for.
	DefaultChunkBytes = 256 << 10
	// MaxSnapshotKey and MaxSnapshotValue bound one pair on the wire
	// (chain/state allows keys up to 1 KiB; values share the block limit).
	MaxSnapshotKey   = 1024
	MaxSnapshotValue = 4 << 20
	// MaxValidatorsBytes bounds an encoded validator set.
	MaxValidatorsBytes = 4 << 20

	maxSnapReqFrame   = 1 + 3*binary.MaxVarintLen64 + MaxSnapshotKey
	maxChunkFrame     = 2*binary.MaxVarintLen64 + 1 + MaxChunkBytes + MaxSnapshotValue + MaxSnapshotKey + 4*binary.MaxVarintLen64
	maxSnapPairs      = MaxChunkBytes // each pair is at least one byte of key and value
	snapReqOffer      = 1
	snapReqValidators = 2
	snapReqChunk      = 3
)

// KV is one state pair in a snapshot chunk.
type KV struct{ Key, Value []byte }

// Chunk is one bounded range of a snapshot: pairs in ascending key order
// after the requested key, and whether more follow.
type Chunk struct {
	Pairs []KV
	More  bool
}

// snapRequest is one request on the snapshot protocol.
type snapRequest struct {
	kind     byte
	height   uint64
	after    []byte // chunk: nil from the first key
	hasAfter bool
	max      uint64 // chunk: byte budget
}

func encodeSnapRequest(r snapRequest) []byte {
	b := []byte{r.kind}
	b = binary.AppendUvarint(b, r.height)
	if r.kind != snapReqChunk {
		return b
	}
	b = binary.AppendUvarint(b, r.max)
	if !r.hasAfter {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(r.after)))
	return append(b, r.after...)
}

func decodeSnapRequest(p []byte) (snapRequest, error) {
	var r snapRequest
	if len(p) == 0 {
		return r, fmt.Errorf("%w: empty snapshot request", ErrMalformed)
	}
	r.kind, p = p[0], p[1:]
	var err error
	if r.height, p, err = readUvarint(p); err != nil {
		return r, fmt.Errorf("%w: snapshot request height: %v", ErrMalformed, err)
	}
	switch r.kind {
	case snapReqOffer, snapReqValidators:
	case snapReqChunk:
		if r.max, p, err = readUvarint(p); err != nil {
			return r, fmt.Errorf("%w: snapshot request size: %v", ErrMalformed, err)
		}
		if r.max == 0 || r.max > MaxChunkBytes {
			return r, fmt.Errorf("%w: chunk of %d bytes (1..%d)", ErrMalformed, r.max, MaxChunkBytes)
		}
		if len(p) == 0 {
			return r, fmt.Errorf("%w: snapshot request: no start flag", ErrMalformed)
		}
		flag := p[0]
		p = p[1:]
		switch flag {
		case 0:
		case 1:
			r.hasAfter = true
			if r.after, p, err = readBytes(p, MaxSnapshotKey); err != nil {
				return r, fmt.Errorf("%w: snapshot request key: %v", ErrMalformed, err)
			}
		default:
			return r, fmt.Errorf("%w: snapshot request start flag %d", ErrMalformed, flag)
		}
	default:
		return r, fmt.Errorf("%w: snapshot request kind %d", ErrMalformed, r.kind)
	}
	if len(p) != 0 {
		return r, fmt.Errorf("%w: snapshot request: %d trailing bytes", ErrMalformed, len(p))
	}
	return r, nil
}

// EncodeChunk is a chunk's wire form: uvarint count, then each pair as
// length-prefixed key and value, then a more byte (0 or 1).
func EncodeChunk(c Chunk) []byte {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(c.Pairs)))
	for _, kv := range c.Pairs {
		b = binary.AppendUvarint(b, uint64(len(kv.Key)))
		b = append(b, kv.Key...)
		b = binary.AppendUvarint(b, uint64(len(kv.Value)))
		b = append(b, kv.Value...)
	}
	if c.More {
		return append(b, 1)
	}
	return append(b, 0)
}

// DecodeChunk parses a chunk. It checks shape only — non-empty keys and
// values within bounds, strictly ascending keys, a final chunk may be
// empty, a chunk with more must not — and never allocates more than p's
// size.
func DecodeChunk(p []byte) (Chunk, error) {
	var c Chunk
	n, p, err := readUvarint(p)
	if err != nil {
		return c, fmt.Errorf("%w: chunk count: %v", ErrMalformed, err)
	}
	if n > uint64(len(p))/4 || n > maxSnapPairs {
		return c, fmt.Errorf("%w: chunk of %d pairs in %d bytes", ErrMalformed, n, len(p))
	}
	c.Pairs = make([]KV, 0, n)
	var prev []byte
	for i := range n {
		var k, v []byte
		if k, p, err = readBytes(p, MaxSnapshotKey); err != nil {
			return Chunk{}, fmt.Errorf("%w: chunk pair %d key: %v", ErrMalformed, i, err)
		}
		if v, p, err = readBytes(p, MaxSnapshotValue); err != nil {
			return Chunk{}, fmt.Errorf("%w: chunk pair %d value: %v", ErrMalformed, i, err)
		}
		if len(k) == 0 || len(v) == 0 {
			return Chunk{}, fmt.Errorf("%w: chunk pair %d: empty key or value", ErrMalformed, i)
		}
		if prev != nil && string(k) <= string(prev) {
			return Chunk{}, fmt.Errorf("%w: chunk pair %d: keys not ascending", ErrMalformed, i)
		}
		prev = k
		c.Pairs = append(c.Pairs, KV{Key: k, Value: v})
	}
	if len(p) != 1 || p[0] > 1 {
		return Chunk{}, fmt.Errorf("%w: chunk: bad end (%d bytes left)", ErrMalformed, len(p))
	}
	c.More = p[0] == 1
	if c.More && len(c.Pairs) == 0 {
		return Chunk{}, fmt.Errorf("%w: empty chunk with more to follow", ErrMalformed)
	}
	return c, nil
}
