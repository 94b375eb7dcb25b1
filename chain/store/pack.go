package store

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Packed values. Block bytes and tx results are the two large values a
// commit writes (together ≈ 320 B per signed transfer); they go to Badger's
// value log, which Badger does not compress. The store compresses them
// itself: a packed value is
//
//	0x00 0x01 ‖ zstd frame (with its content size and CRC)
//
// Nothing else can start with 0x00: a canonical block and a results list
// are CBOR arrays (first byte 0x80–0x9b), and 0x00 alone (the CBOR integer
// 0) is neither. So a value that does not start with packMarker is read as
// is: everything a store wrote before packing existed, and values packing
// would not shrink. BlockRaw still returns the canonical block bytes (what
// block sync serves and what the block ID and tx root hash); packing is
// only how they rest on disk.
const (
	packMarker = 0x00
	packZstd   = 0x01
	// packMin: smaller values are stored as is (a frame's header and CRC
	// would eat most of the saving).
	packMin = 256
	// maxUnpacked bounds what one packed value may expand to: far above a
	// block (consensus max_block_bytes is at most 32 MiB) and its results,
	// so a damaged frame cannot make a read allocate without bound.
	maxUnpacked = 256 << 20
)

var errPacked = errors.New("packed value")

// packer holds one zstd encoder and decoder for the store's lifetime. Both
// are safe for concurrent use (EncodeAll/DecodeAll).
type packer struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newPacker() (*packer, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true),
		zstd.WithWindowSize(1<<20),
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("store: zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(2),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(maxUnpacked),
		zstd.WithDecoderMaxWindow(8<<20))
	if err != nil {
		_ = enc.Close()
		return nil, fmt.Errorf("store: zstd decoder: %w", err)
	}
	return &packer{enc: enc, dec: dec}, nil
}

func (p *packer) close() {
	_ = p.enc.Close()
	p.dec.Close()
}

// pack returns the value to store for raw: packed if that is smaller,
// otherwise raw itself.
func (p *packer) pack(raw []byte) []byte {
	switch {
	case len(raw) > 0 && raw[0] == packMarker:
		// Never a CBOR block or results list; stored as is it would read
		// as a packed value, so it is always framed.
		return p.frame(raw)
	case len(raw) < packMin:
		return raw
	}
	out := p.frame(raw)
	if len(out) >= len(raw) {
		return raw
	}
	return out
}

func (p *packer) frame(raw []byte) []byte {
	dst := make([]byte, 2, 2+len(raw)/2)
	dst[0], dst[1] = packMarker, packZstd
	return p.enc.EncodeAll(raw, dst)
}

// unpack returns the stored value's plain bytes. A value without the
// marker is returned unchanged (see above); a packed value that does not
// decode, or whose CRC fails, is an error wrapping errPacked.
func (p *packer) unpack(v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != packMarker {
		return v, nil
	}
	if len(v) < 2 || v[1] != packZstd {
		return nil, fmt.Errorf("%w: unknown packing %x", errPacked, v[:min(len(v), 2)])
	}
	out, err := p.dec.DecodeAll(v[2:], nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errPacked, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty", errPacked)
	}
	return out, nil
}
