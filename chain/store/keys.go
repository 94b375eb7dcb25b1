package store

import (
	"encoding/binary"
	"fmt"

	"github.com/dure-network/dure/chain"
)

// TS maps a chain height to the Badger commit timestamp its writes carry.
// Genesis (height 0) is written at TS(0) = 1 because managed Badger treats
// timestamp 0 as "nothing"; block H is written at H+1. A reader that wants
// the state as of height H reads at TS(H). The state package must use the
// same mapping.
func TS(height uint64) uint64 { return height + 1 }

// Key layout. "m/" meta, "b/" block data by height, "x/" lookup indexes.
var (
	keyHead    = []byte("m/head")
	keyGenesis = []byte("m/genesis")
	keyBase    = []byte("m/base") // lowest height whose block data is kept

	pfxBlock   = []byte("b/blk/") // height → canonical block bytes
	pfxCommit  = []byte("b/cmt/") // height → seen commit for that height
	pfxResults = []byte("b/res/") // height → encoded []TxResult
	pfxBlockID = []byte("b/bid/") // height → block ID
	pfxVals    = []byte("b/val/") // first height signed by a set → set
	pfxIDToH   = []byte("x/bid/") // block ID → height
	pfxTx      = []byte("x/tx/")  // tx ID → height(8) ‖ index(4)
)

func heightKey(pfx []byte, h uint64) []byte {
	k := make([]byte, len(pfx)+8)
	copy(k, pfx)
	binary.BigEndian.PutUint64(k[len(pfx):], h)
	return k
}

func idKey(pfx []byte, id chain.ID) []byte {
	k := make([]byte, 0, len(pfx)+len(id))
	return append(append(k, pfx...), id...)
}

func u64(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: height value of %d bytes", ErrCorrupt, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

func be64(h uint64) []byte { return binary.BigEndian.AppendUint64(nil, h) }

func txLoc(h uint64, i uint32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(make([]byte, 0, 12), h), i)
}

// Head is the committed tip: the newest height whose every write is
// durable. It is the last thing written for a height.
type Head struct {
	_           struct{}   `cbor:",toarray"`
	Height      uint64     `json:"height"`
	BlockID     chain.ID   `json:"block_id"` // empty at genesis
	StateRoot   chain.Hash `json:"state_root"`
	Time        chain.Time `json:"time"` // header time, Unix ns; 0 at genesis
	GenesisHash chain.Hash `json:"genesis_hash"`
}

// maxHeadBytes bounds the head record; a real one is about 120 bytes.
const maxHeadBytes = 512

// decodeHead decodes a head record canonically.
func decodeHead(c *chain.Codec, raw []byte) (Head, error) {
	var h Head
	if len(raw) > maxHeadBytes {
		return h, fmt.Errorf("%w: head record of %d bytes", ErrCorrupt, len(raw))
	}
	if err := c.UnmarshalCanonical(raw, &h); err != nil {
		return Head{}, fmt.Errorf("%w: head record: %v", ErrCorrupt, err)
	}
	if h.Height > 0 && h.BlockID.IsZero() {
		return Head{}, fmt.Errorf("%w: head record at height %d has no block id", ErrCorrupt, h.Height)
	}
	return h, nil
}
