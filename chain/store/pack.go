package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/klauspost/compress/s2"
)

// Packed values. Block bytes and tx results are the two large values a
// commit writes (together ≈ 320 B per signed transfer); they go to Badger's
// value log, which Badger does not compress. The store compresses them
// itself: a packed value is
//
//	0x00 0x01 ‖ CRC-32C of the plain bytes (4, big-endian) ‖ S2 block
//
// S2 (klauspost/compress, Snappy's format extended) rather than zstd:
// zstd's fastest level packs results to 0.13 of their size against S2's
// 0.25, but costs ≈ 8× the CPU (≈ 4 µs per transfer against 0.5 µs on this
// machine), and CPU per tx is what the node is short of.
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
	packS2     = 0x01
	packHeader = 2 + 4
	// packMin: smaller values are stored as is (the header would eat most
	// of the saving).
	packMin = 256
	// maxUnpacked bounds what one packed value may expand to: far above a
	// block (consensus max_block_bytes is at most 32 MiB) and its results,
	// so a damaged length cannot make a read allocate without bound.
	maxUnpacked = 256 << 20
)

var (
	errPacked = errors.New("packed value")
	crcTable  = crc32.MakeTable(crc32.Castagnoli)
)

// pack returns the value to store for raw: packed if that is smaller,
// otherwise raw itself.
func pack(raw []byte) []byte {
	switch {
	case len(raw) > 0 && raw[0] == packMarker:
		// Never a CBOR block or results list; stored as is it would read
		// as a packed value, so it is always framed.
		return frame(raw)
	case len(raw) < packMin:
		return raw
	}
	out := frame(raw)
	if len(out) >= len(raw) {
		return raw
	}
	return out
}

func frame(raw []byte) []byte {
	dst := make([]byte, packHeader+s2.MaxEncodedLen(len(raw)))
	dst[0], dst[1] = packMarker, packS2
	binary.BigEndian.PutUint32(dst[2:], crc32.Checksum(raw, crcTable))
	n := len(s2.Encode(dst[packHeader:], raw))
	return dst[:packHeader+n]
}

// unpack returns the stored value's plain bytes. A value without the
// marker is returned unchanged (see above); a packed value that does not
// decode, or whose CRC fails, is an error wrapping errPacked.
func unpack(v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != packMarker {
		return v, nil
	}
	if len(v) < packHeader || v[1] != packS2 {
		return nil, fmt.Errorf("%w: unknown packing %x", errPacked, v[:min(len(v), 2)])
	}
	n, err := s2.DecodedLen(v[packHeader:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errPacked, err)
	}
	if n == 0 || n > maxUnpacked {
		return nil, fmt.Errorf("%w: %d bytes unpacked", errPacked, n)
	}
	out, err := s2.Decode(make([]byte, n), v[packHeader:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errPacked, err)
	}
	if crc32.Checksum(out, crcTable) != binary.BigEndian.Uint32(v[2:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errPacked)
	}
	return out, nil
}
