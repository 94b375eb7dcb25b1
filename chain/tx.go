package chain

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Transaction limits.
const (
	MaxTxBytes    = 64 << 10
	MaxMsgsPerTx  = 16
	MaxChainIDLen = 64
	MaxNameLen    = 32
)

// Sentinel errors for transactions; callers (mempool, API) branch on them
// and map them to stable error codes.
var (
	ErrTxTooLarge   = errors.New("tx too large")
	ErrTxMalformed  = errors.New("tx malformed")
	ErrBadSignature = errors.New("bad signature")
	ErrWrongChain   = errors.New("wrong chain id")
	ErrNonceTooLow  = errors.New("nonce too low")
	ErrNonceTooHigh = errors.New("nonce too high")
	ErrFeeTooLow    = errors.New("fee too low")
	ErrInsufficient = errors.New("insufficient funds")
	// ErrFeeUnpayable: the sender's balance cannot cover the tx's MaxFee
	// (the whole MaxFee is charged). It wraps ErrInsufficient.
	ErrFeeUnpayable = fmt.Errorf("%w for the max fee", ErrInsufficient)
	ErrUnknownMsg   = errors.New("unknown module or message type")
	ErrOutOfGas     = errors.New("out of gas")
	ErrUnauthorized = errors.New("unauthorized")
	ErrInvalidMsg   = errors.New("invalid message")
)

// Msg is one instruction inside a transaction, routed to a module by name.
// Body is the canonical CBOR of the module's own message struct.
type Msg struct {
	_      struct{}        `cbor:",toarray"`
	Module string          `json:"module"`
	Type   string          `json:"type"`
	Body   cbor.RawMessage `json:"body"`
}

// Tx is a signed transaction. Its ID is the CID of its encoded bytes.
type Tx struct {
	_       struct{} `cbor:",toarray"`
	ChainID string   `json:"chain_id"`
	PubKey  PubKey   `json:"pub_key"`
	Nonce   uint64   `json:"nonce"`
	MaxFee  uint64   `json:"max_fee"`
	Msgs    []Msg    `json:"msgs"`
	Sig     []byte   `json:"sig"`
}

// txSignDoc is what a sender signs: the tx without its signature, behind a
// domain tag so a tx signature can never be replayed as a vote signature.
type txSignDoc struct {
	_       struct{} `cbor:",toarray"`
	Domain  string
	ChainID string
	PubKey  PubKey
	Nonce   uint64
	MaxFee  uint64
	Msgs    []Msg
}

// Sender is the address of the signing key.
func (tx *Tx) Sender() Address { return AddressOf(tx.PubKey) }

// SignBytes returns the canonical bytes the sender signs.
func (tx *Tx) SignBytes(c *Codec) ([]byte, error) {
	return c.Marshal(txSignDoc{Domain: "dure/tx/1", ChainID: tx.ChainID, PubKey: tx.PubKey,
		Nonce: tx.Nonce, MaxFee: tx.MaxFee, Msgs: tx.Msgs})
}

// Sign fills PubKey and Sig with key and returns the encoded tx.
func (tx *Tx) Sign(c *Codec, key PrivKey) ([]byte, error) {
	tx.PubKey = key.PubKey()
	sb, err := tx.SignBytes(c)
	if err != nil {
		return nil, fmt.Errorf("sign tx: %w", err)
	}
	tx.Sig = key.Sign(sb)
	return c.Marshal(tx)
}

// ValidateBasic checks what needs no state: shape, sizes and names.
func (tx *Tx) ValidateBasic() error {
	switch {
	case tx.ChainID == "" || len(tx.ChainID) > MaxChainIDLen:
		return fmt.Errorf("%w: chain id length %d", ErrTxMalformed, len(tx.ChainID))
	case len(tx.Msgs) == 0:
		return fmt.Errorf("%w: no messages", ErrTxMalformed)
	case len(tx.Msgs) > MaxMsgsPerTx:
		return fmt.Errorf("%w: %d messages, max %d", ErrTxMalformed, len(tx.Msgs), MaxMsgsPerTx)
	case len(tx.Sig) != SigLen:
		return fmt.Errorf("%w: signature length %d", ErrTxMalformed, len(tx.Sig))
	}
	for i, m := range tx.Msgs {
		if m.Module == "" || len(m.Module) > MaxNameLen || m.Type == "" || len(m.Type) > MaxNameLen {
			return fmt.Errorf("%w: message %d: bad module or type name", ErrTxMalformed, i)
		}
		if len(m.Body) == 0 {
			return fmt.Errorf("%w: message %d: empty body", ErrTxMalformed, i)
		}
	}
	return nil
}

// DecodeTx decodes and shape-checks raw tx bytes. It does not verify the
// signature (see VerifySignature) so callers can batch that work.
func DecodeTx(c *Codec, raw []byte) (*Tx, error) {
	if len(raw) > MaxTxBytes {
		return nil, fmt.Errorf("%w: %d bytes, max %d", ErrTxTooLarge, len(raw), MaxTxBytes)
	}
	var tx Tx
	// UnmarshalCanonical's check (decode, re-encode, compare), with the
	// re-encoding done by appendTx rather than by reflection.
	if err := c.Unmarshal(raw, &tx); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTxMalformed, err)
	}
	if !txIsCanonical(&tx, raw) {
		return nil, fmt.Errorf("%w: %v", ErrTxMalformed, ErrNonCanonical)
	}
	if err := tx.ValidateBasic(); err != nil {
		return nil, err
	}
	return &tx, nil
}

// VerifySignature checks the sender's signature.
func (tx *Tx) VerifySignature(c *Codec) error {
	sb, err := tx.SignBytes(c)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTxMalformed, err)
	}
	if !VerifySig(tx.PubKey, sb, tx.Sig) {
		return ErrBadSignature
	}
	return nil
}

// DecodedTx is a tx with its raw bytes and ID kept alongside, so nothing is
// encoded or hashed twice on the hot path.
type DecodedTx struct {
	Tx  *Tx
	Raw []byte
	ID  ID
}

// NewDecodedTx decodes raw and computes its ID.
func NewDecodedTx(c *Codec, raw []byte) (*DecodedTx, error) {
	tx, err := DecodeTx(c, raw)
	if err != nil {
		return nil, err
	}
	return &DecodedTx{Tx: tx, Raw: raw, ID: IDOf(raw)}, nil
}

// NewMsg encodes body canonically as a message of type typ for module.
func NewMsg(c *Codec, module, typ string, body any) (Msg, error) {
	b, err := c.Marshal(body)
	if err != nil {
		return Msg{}, fmt.Errorf("%s: encode %s: %w", module, typ, err)
	}
	return Msg{Module: module, Type: typ, Body: b}, nil
}

// DecodeBody decodes the message body canonically into v; a malformed or
// non-canonical body is ErrInvalidMsg (the sender's fault, not the node's).
func (m Msg) DecodeBody(c *Codec, v any) error {
	if err := c.UnmarshalCanonical(m.Body, v); err != nil {
		return fmt.Errorf("%w: %s %s body: %v", ErrInvalidMsg, m.Module, m.Type, err)
	}
	return nil
}
