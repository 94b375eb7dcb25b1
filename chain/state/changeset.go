package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// A changeset is the net effect of one committed version on state: every
// key it wrote, in ascending order, with the new value or a deletion. It is
// what a version persists between snapshots; replaying the changesets
// after the last snapshot rebuilds the in-memory trie (see recover).
//
// Encoding (all integers big-endian, so one changeset has one encoding):
//
//	"dcs1"                       magic and format version
//	u32 count
//	count × { u16 keyLen, key, u8 kind (0 delete, 1 set), [u32 valLen, val] }
//	u32 CRC-32C of everything before it
//
// Keys (state keys, and next-key records' trie keys: 0x00 + state key) are
// non-empty, at most MaxKeyLen+1 bytes and strictly ascending; set
// values are non-empty. The decoder refuses anything else, including
// trailing bytes, so a damaged record is named rather than replayed.
const changesetMagic = "dcs1"

// ErrCorruptChangeset is returned for a changeset record that does not
// decode or fails its checksum.
var ErrCorruptChangeset = errors.New("state: changeset corrupt")

// maxChangesetBytes bounds a record the decoder accepts (a 5,000-tx block
// writes well under 1 MiB).
const maxChangesetBytes = 256 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type change struct {
	key string
	val []byte // nil deletes
}

func encodeChangeset(cs []change) []byte {
	n := len(changesetMagic) + 4 + 4
	for _, c := range cs {
		n += 2 + len(c.key) + 1
		if c.val != nil {
			n += 4 + len(c.val)
		}
	}
	out := make([]byte, 0, n)
	out = append(out, changesetMagic...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(cs)))
	for _, c := range cs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(c.key)))
		out = append(out, c.key...)
		if c.val == nil {
			out = append(out, 0)
			continue
		}
		out = append(out, 1)
		out = binary.BigEndian.AppendUint32(out, uint32(len(c.val)))
		out = append(out, c.val...)
	}
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// decodeChangeset strictly decodes a changeset. The returned slices alias
// raw.
func decodeChangeset(raw []byte) ([]change, error) {
	bad := func(f string, a ...any) ([]change, error) {
		return nil, fmt.Errorf("%w: %s", ErrCorruptChangeset, fmt.Sprintf(f, a...))
	}
	if len(raw) > maxChangesetBytes {
		return bad("%d bytes, max %d", len(raw), maxChangesetBytes)
	}
	if len(raw) < len(changesetMagic)+8 || string(raw[:len(changesetMagic)]) != changesetMagic {
		return bad("bad header")
	}
	body := raw[:len(raw)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(raw[len(raw)-4:]) {
		return bad("checksum mismatch")
	}
	p := body[len(changesetMagic):]
	count := binary.BigEndian.Uint32(p)
	p = p[4:]
	// Each entry takes at least 4 bytes: a count above that is a lie.
	if uint64(count) > uint64(len(p))/4 {
		return bad("count %d does not fit %d bytes", count, len(p))
	}
	out := make([]change, 0, count)
	for i := uint32(0); i < count; i++ {
		if len(p) < 2 {
			return bad("entry %d truncated", i)
		}
		kl := int(binary.BigEndian.Uint16(p))
		p = p[2:]
		if kl == 0 || kl > MaxKeyLen+1 || len(p) < kl+1 { // +1: a next-key record's 0x00
			return bad("entry %d: key length %d", i, kl)
		}
		key := string(p[:kl])
		if len(out) > 0 && out[len(out)-1].key >= key {
			return bad("entry %d: keys not strictly ascending", i)
		}
		kind := p[kl]
		p = p[kl+1:]
		switch kind {
		case 0:
			out = append(out, change{key: key})
		case 1:
			if len(p) < 4 {
				return bad("entry %d truncated", i)
			}
			vl := binary.BigEndian.Uint32(p)
			p = p[4:]
			if vl == 0 || uint64(vl) > uint64(len(p)) {
				return bad("entry %d: value length %d", i, vl)
			}
			out = append(out, change{key: key, val: p[:vl:vl]})
			p = p[vl:]
		default:
			return bad("entry %d: kind %d", i, kind)
		}
	}
	if len(p) != 0 {
		return bad("%d trailing bytes", len(p))
	}
	return out, nil
}
