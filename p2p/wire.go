package p2p

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/dure-network/dure/chain"
)

// Sync wire limits.
const (
	// MaxSyncRange is the most blocks one sync request may ask for.
	MaxSyncRange = 64
	// MaxCommitBytes bounds the commit carried with each synced block.
	MaxCommitBytes = 4 << 20
	// MaxSyncResponseBytes bounds one sync response: a server stops
	// starting new items once it has written this much (so one item of
	// any size still fits), and a client refuses a frame that begins
	// past it. Without it one peer could make a client buffer 64 frames
	// of maxItemFrame (2.3 GiB) per request before any was verified.
	MaxSyncResponseBytes = 64 << 20

	maxRequestFrame = 2 * binary.MaxVarintLen64
	maxStatusFrame  = binary.MaxVarintLen64
	maxItemFrame    = 3*binary.MaxVarintLen64 + chain.MaxBlockBytes + MaxCommitBytes
)

// SyncItem is one block with the commit that finalises it, as served by the
// sync protocol. The bytes are opaque to p2p: the node decodes and verifies
// them in its Apply callback.
type SyncItem struct {
	Height uint64
	Block  []byte
	Commit []byte
}

// Sync and status frames are a uvarint length followed by a payload of
// uvarints and length-prefixed byte strings. They carry nothing that is
// hashed or signed, so they need no canonical CBOR; they only need to be
// cheap to bound.

func encodeSyncRequest(from, to uint64) []byte {
	b := binary.AppendUvarint(nil, from)
	return binary.AppendUvarint(b, to)
}

func decodeSyncRequest(p []byte) (from, to uint64, err error) {
	from, p, err = readUvarint(p)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: sync request from: %v", ErrMalformed, err)
	}
	to, p, err = readUvarint(p)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: sync request to: %v", ErrMalformed, err)
	}
	if len(p) != 0 {
		return 0, 0, fmt.Errorf("%w: sync request: %d trailing bytes", ErrMalformed, len(p))
	}
	if err := checkRange(from, to); err != nil {
		return 0, 0, err
	}
	return from, to, nil
}

func checkRange(from, to uint64) error {
	if from == 0 || to < from || to-from >= MaxSyncRange {
		return fmt.Errorf("%w: [%d, %d]: need 1 <= from <= to and at most %d blocks", ErrSyncRange, from, to, MaxSyncRange)
	}
	return nil
}

func encodeSyncItem(it SyncItem) []byte {
	b := make([]byte, 0, 3*binary.MaxVarintLen64+len(it.Block)+len(it.Commit))
	b = binary.AppendUvarint(b, it.Height)
	b = binary.AppendUvarint(b, uint64(len(it.Block)))
	b = append(b, it.Block...)
	b = binary.AppendUvarint(b, uint64(len(it.Commit)))
	return append(b, it.Commit...)
}

func decodeSyncItem(p []byte) (SyncItem, error) {
	var it SyncItem
	var err error
	if it.Height, p, err = readUvarint(p); err != nil {
		return it, fmt.Errorf("%w: sync item height: %v", ErrMalformed, err)
	}
	if it.Block, p, err = readBytes(p, chain.MaxBlockBytes); err != nil {
		return it, fmt.Errorf("%w: sync item %d block: %v", ErrMalformed, it.Height, err)
	}
	if it.Commit, p, err = readBytes(p, MaxCommitBytes); err != nil {
		return it, fmt.Errorf("%w: sync item %d commit: %v", ErrMalformed, it.Height, err)
	}
	if len(p) != 0 {
		return it, fmt.Errorf("%w: sync item %d: %d trailing bytes", ErrMalformed, it.Height, len(p))
	}
	if it.Height == 0 || len(it.Block) == 0 {
		return it, fmt.Errorf("%w: sync item: height 0 or empty block", ErrMalformed)
	}
	return it, nil
}

func encodeStatus(head uint64) []byte { return binary.AppendUvarint(nil, head) }

func decodeStatus(p []byte) (uint64, error) {
	head, rest, err := readUvarint(p)
	if err != nil {
		return 0, fmt.Errorf("%w: status: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return 0, fmt.Errorf("%w: status: %d trailing bytes", ErrMalformed, len(rest))
	}
	return head, nil
}

func readUvarint(p []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(p)
	switch {
	case n == 0:
		return 0, nil, errors.New("unexpected end")
	case n < 0:
		return 0, nil, errors.New("varint overflows 64 bits")
	}
	return v, p[n:], nil
}

func readBytes(p []byte, limit int) ([]byte, []byte, error) {
	l, p, err := readUvarint(p)
	if err != nil {
		return nil, nil, err
	}
	if l > uint64(limit) || l > uint64(len(p)) {
		return nil, nil, fmt.Errorf("length %d (max %d, %d left)", l, limit, len(p))
	}
	return p[:l:l], p[l:], nil
}

func writeFrame(w io.Writer, payload []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(payload)))
	if _, err := w.Write(hdr[:n]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// readFrame reads one frame of at most limit bytes. It returns io.EOF only
// for a clean end between frames.
func readFrame(r *bufio.Reader, limit int) ([]byte, error) {
	l, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: frame length: %v", ErrMalformed, err)
	}
	if l > uint64(limit) {
		return nil, fmt.Errorf("%w: frame of %d bytes, max %d", ErrMessageTooLarge, l, limit)
	}
	buf := make([]byte, l)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: frame body: %v", ErrMalformed, err)
	}
	return buf, nil
}
