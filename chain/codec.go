package chain

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// Codec limits. They bound what a decoder will allocate for hostile input.
const (
	MaxNesting       = 16
	MaxArrayElements = 1 << 17
	MaxMapPairs      = 1 << 12
	// MaxBlockBytes bounds an encoded block (and so a sync response item).
	MaxBlockBytes = 32 << 20
)

// ErrNonCanonical is returned when bytes decode but are not the canonical
// encoding of the value: accepting them would let two byte strings (and two
// IDs) stand for one transaction or block.
var ErrNonCanonical = errors.New("chain: non-canonical encoding")

// Codec holds the CBOR modes. It is created once by NewCodec and passed
// around explicitly; there is no package-level codec.
type Codec struct {
	enc cbor.EncMode
	dec cbor.DecMode
}

// NewCodec returns the deterministic CBOR codec (RFC 8949 core deterministic
// encoding) with strict decode limits: bounded sizes and nesting, no
// indefinite lengths, no tags, duplicate map keys and unknown fields rejected.
func NewCodec() (*Codec, error) {
	enc, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		return nil, fmt.Errorf("cbor enc mode: %w", err)
	}
	dec, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:   MaxNesting,
		MaxArrayElements:  MaxArrayElements,
		MaxMapPairs:       MaxMapPairs,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		return nil, fmt.Errorf("cbor dec mode: %w", err)
	}
	return &Codec{enc: enc, dec: dec}, nil
}

// MustCodec is NewCodec for static option sets that cannot fail.
func MustCodec() *Codec {
	c, err := NewCodec()
	if err != nil {
		panic(err) // options are constants: failing here is a programming error
	}
	return c
}

// Marshal encodes v canonically.
func (c *Codec) Marshal(v any) ([]byte, error) { return c.enc.Marshal(v) }

// Unmarshal decodes data into v with the strict limits; it does not check
// canonical form (see UnmarshalCanonical).
func (c *Codec) Unmarshal(data []byte, v any) error { return c.dec.Unmarshal(data, v) }

// UnmarshalCanonical decodes data into v and rejects it unless re-encoding v
// gives back exactly data.
func (c *Codec) UnmarshalCanonical(data []byte, v any) error {
	if err := c.dec.Unmarshal(data, v); err != nil {
		return err
	}
	again, err := c.enc.Marshal(v)
	if err != nil {
		return err
	}
	if !bytes.Equal(again, data) {
		return ErrNonCanonical
	}
	return nil
}

// CIDOf returns the CIDv1 (dag-cbor, sha2-256) of encoded bytes.
func CIDOf(encoded []byte) cid.Cid {
	sum := Sum256(encoded)
	m, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		panic(err) // fixed-length sha2-256 digest always encodes
	}
	return cid.NewCidV1(cid.DagCBOR, m)
}

// ID is a content identifier in binary CID form. It is comparable, so it can
// key maps, and the zero value means "none" (for example a nil vote).
type ID string

// IDOf returns the binary CID of encoded bytes as an ID.
func IDOf(encoded []byte) ID { return ID(CIDOf(encoded).Bytes()) }

// IsZero reports whether id is empty.
func (id ID) IsZero() bool { return id == "" }

// CID parses id back into a cid.Cid.
func (id ID) CID() (cid.Cid, error) { return cid.Cast([]byte(id)) }

// String renders id in the usual base32 multibase form, or "nil".
func (id ID) String() string {
	if id == "" {
		return "nil"
	}
	c, err := cid.Cast([]byte(id))
	if err != nil {
		return fmt.Sprintf("invalid-cid(%x)", []byte(id))
	}
	return c.String()
}

// ErrNonCanonicalID is returned for a CID written in another spelling
// than ID.String() gives (another multibase, or unused trailing bits set).
var ErrNonCanonicalID = errors.New("cid not in canonical form")

// ParseID parses a textual CID in its canonical spelling only, so one ID
// has one text form.
func ParseID(s string) (ID, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return "", fmt.Errorf("parse cid %q: %w", s, err)
	}
	if c.Version() != 1 || c.Type() != cid.DagCBOR {
		return "", fmt.Errorf("parse cid %q: want CIDv1 dag-cbor", s)
	}
	id := ID(c.Bytes())
	if canon := id.String(); canon != s {
		return "", fmt.Errorf("%w: %q (the canonical spelling is %s)", ErrNonCanonicalID, s, canon)
	}
	return id, nil
}

// MarshalText renders the CID as text (JSON-friendly).
func (id ID) MarshalText() ([]byte, error) {
	if id == "" {
		return []byte{}, nil
	}
	return []byte(id.String()), nil
}

// UnmarshalText parses a textual CID.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = ""
		return nil
	}
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// MarshalCBOR encodes the ID as a CBOR byte string (binary CID).
func (id ID) MarshalCBOR() ([]byte, error) { return cbor.Marshal([]byte(id)) }

// UnmarshalCBOR decodes a byte string and checks that it is a CID (or empty).
func (id *ID) UnmarshalCBOR(data []byte) error {
	var b []byte
	if err := cbor.Unmarshal(data, &b); err != nil {
		return err
	}
	if len(b) > 0 {
		if _, err := cid.Cast(b); err != nil {
			return fmt.Errorf("invalid cid: %w", err)
		}
	}
	*id = ID(b)
	return nil
}
