package chain

import (
	"errors"
	"fmt"
)

// ErrBlockMalformed is returned for blocks that fail decoding or shape checks.
var ErrBlockMalformed = errors.New("block malformed")

// MaxTxsPerBlock bounds how many transactions one block carries.
const MaxTxsPerBlock = 20000

// Header is what a block ID commits to. Time is the proposer's clock in Unix
// nanoseconds, strictly after the parent's.
type Header struct {
	_                  struct{} `cbor:",toarray"`
	ChainID            string   `json:"chain_id"`
	Height             uint64   `json:"height"`
	Time               Time     `json:"time"`
	Parent             ID       `json:"parent"`
	TxRoot             Hash     `json:"tx_root"`
	StateRoot          Hash     `json:"state_root"`
	ResultsRoot        Hash     `json:"results_root"`
	ValidatorsHash     Hash     `json:"validators_hash"`
	NextValidatorsHash Hash     `json:"next_validators_hash"`
	Proposer           Address  `json:"proposer"`
	LastCommitHash     Hash     `json:"last_commit_hash"`
	EvidenceHash       Hash     `json:"evidence_hash"`
}

// ID is the block ID: the CID of the encoded header.
func (h *Header) ID(c *Codec) ID {
	b, err := c.Marshal(h)
	if err != nil {
		panic(err) // fixed-shape struct always encodes
	}
	return IDOf(b)
}

// Block is a header with the transactions (raw encoded bytes, so IDs are
// stable), the commit for the parent and any evidence of misbehaviour.
type Block struct {
	_          struct{}   `cbor:",toarray"`
	Header     Header     `json:"header"`
	Txs        [][]byte   `json:"txs"`
	LastCommit *Commit    `json:"last_commit"`
	Evidence   []Evidence `json:"evidence"`
}

// TxRoot computes the RFC 6962 root over the raw transactions.
func TxRoot(txs [][]byte) Hash { return MerkleRoot(txs) }

// CommitHash hashes an encoded commit (zero hash for none).
func CommitHash(c *Codec, cm *Commit) Hash {
	if cm == nil {
		return Hash{}
	}
	b, err := c.Marshal(cm)
	if err != nil {
		panic(err)
	}
	return Sum256(b)
}

// EvidenceHash hashes the encoded evidence list (zero hash for none).
func EvidenceHash(c *Codec, ev []Evidence) Hash {
	if len(ev) == 0 {
		return Hash{}
	}
	b, err := c.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return Sum256(b)
}

// DecodeBlock decodes a block canonically and checks that the header's
// tx, commit and evidence hashes match the body.
func DecodeBlock(c *Codec, raw []byte) (*Block, error) {
	if len(raw) > MaxBlockBytes {
		return nil, fmt.Errorf("%w: %d bytes, max %d", ErrBlockMalformed, len(raw), MaxBlockBytes)
	}
	var b Block
	if err := c.UnmarshalCanonical(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBlockMalformed, err)
	}
	if err := b.ValidateBasic(c); err != nil {
		return nil, err
	}
	return &b, nil
}

// ValidateBasic checks internal consistency of a block, without state.
func (b *Block) ValidateBasic(c *Codec) error { return b.ValidateBasicWithTxRoot(c, TxRoot(b.Txs)) }

// ValidateBasicWithTxRoot is ValidateBasic for a caller that has already
// computed txRoot = TxRoot(b.Txs) (a compact proposal's receiver checks
// the root when it rebuilds the block): the same checks in the same order,
// the header's tx root compared with txRoot instead of hashing every tx
// again. A txRoot not computed from b.Txs would skip the check; pass only
// the result of TxRoot(b.Txs).
func (b *Block) ValidateBasicWithTxRoot(c *Codec, txRoot Hash) error {
	h := &b.Header
	switch {
	case h.ChainID == "" || len(h.ChainID) > MaxChainIDLen:
		return fmt.Errorf("%w: chain id", ErrBlockMalformed)
	case h.Height == 0:
		return fmt.Errorf("%w: height 0", ErrBlockMalformed)
	case len(b.Txs) > MaxTxsPerBlock:
		return fmt.Errorf("%w: %d txs, max %d", ErrBlockMalformed, len(b.Txs), MaxTxsPerBlock)
	case txRoot != h.TxRoot:
		return fmt.Errorf("%w: tx root mismatch", ErrBlockMalformed)
	case CommitHash(c, b.LastCommit) != h.LastCommitHash:
		return fmt.Errorf("%w: last commit hash mismatch", ErrBlockMalformed)
	case EvidenceHash(c, b.Evidence) != h.EvidenceHash:
		return fmt.Errorf("%w: evidence hash mismatch", ErrBlockMalformed)
	}
	if h.Height > 1 && (b.LastCommit == nil || b.LastCommit.Height != h.Height-1 || b.LastCommit.BlockID != h.Parent) {
		return fmt.Errorf("%w: last commit does not match parent", ErrBlockMalformed)
	}
	for i, tx := range b.Txs {
		if len(tx) > MaxTxBytes {
			return fmt.Errorf("%w: tx %d too large", ErrBlockMalformed, i)
		}
	}
	return nil
}

// Encode returns the canonical bytes of the block.
func (b *Block) Encode(c *Codec) ([]byte, error) { return c.Marshal(b) }

// Event is a typed record emitted during execution, part of the results.
type Event struct {
	_     struct{} `cbor:",toarray"`
	Type  string   `json:"type"`
	Attrs []Attr   `json:"attrs"`
}

// Attr is an event attribute.
type Attr struct {
	_     struct{} `cbor:",toarray"`
	Key   string   `json:"key"`
	Value string   `json:"value"`
}

// TxResult is the outcome of one transaction. Code 0 is success.
type TxResult struct {
	_       struct{} `cbor:",toarray"`
	Code    uint32   `json:"code"`
	Log     string   `json:"log"`
	GasUsed uint64   `json:"gas_used"`
	Events  []Event  `json:"events"`
}

// ResultsRoot is the RFC 6962 root over the encoded tx results.
// The leaves are the codec's encoding of each result (appendTxResult
// writes the same bytes), all in one buffer.
func ResultsRoot(_ *Codec, rs []TxResult) Hash {
	leaves := make([][]byte, len(rs))
	buf := make([]byte, 0, 96*len(rs))
	for i := range rs {
		start := len(buf)
		buf = appendTxResult(buf, &rs[i])
		leaves[i] = buf[start:len(buf):len(buf)]
	}
	// A buffer that grew moved: the earlier leaves point into old copies,
	// which still hold their bytes, so every leaf stays valid.
	return MerkleRoot(leaves)
}

// ValidatorUpdate changes a validator's power; power 0 removes it.
type ValidatorUpdate struct {
	_      struct{} `cbor:",toarray"`
	PubKey PubKey   `json:"pub_key"`
	Power  uint64   `json:"power"`
}
