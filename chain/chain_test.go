package chain

import (
	"bytes"
	"errors"
	"testing"
)

func testTx(t *testing.T, c *Codec) (*Tx, []byte, PrivKey) {
	t.Helper()
	k, err := PrivKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := c.Marshal([]any{"x", uint64(5)})
	tx := &Tx{ChainID: "test-1", Nonce: 3, MaxFee: 10, Msgs: []Msg{{Module: "currency", Type: "send", Body: body}}}
	raw, err := tx.Sign(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return tx, raw, k
}

func TestTxRoundTripAndSignature(t *testing.T) {
	c := MustCodec()
	tx, raw, k := testTx(t, c)
	got, err := DecodeTx(c, raw)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got.Sender() != k.PubKey().Address() || got.Nonce != tx.Nonce {
		t.Fatalf("decoded tx differs: %+v", got)
	}
	if err := got.VerifySignature(c); err != nil {
		t.Fatalf("verify: %v", err)
	}
	got.Nonce++
	if err := got.VerifySignature(c); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered nonce: got %v, want ErrBadSignature", err)
	}
	if IDOf(raw) == IDOf(append([]byte{}, raw[:len(raw)-1]...)) {
		t.Fatal("different bytes gave one ID")
	}
}

func TestDecodeTxRejects(t *testing.T) {
	c := MustCodec()
	_, raw, _ := testTx(t, c)
	// Same value, non-canonical: a uint encoded in more bytes than needed.
	nonCanon := bytes.Replace(raw, []byte{0x03, 0x0a}, []byte{0x18, 0x03, 0x0a}, 1)
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTxMalformed},
		{"garbage", []byte{0xff, 0x00, 0x13}, ErrTxMalformed},
		{"truncated", raw[:len(raw)-3], ErrTxMalformed},
		{"trailing", append(append([]byte{}, raw...), 0), ErrTxMalformed},
		{"non-canonical", nonCanon, ErrTxMalformed},
		{"oversized", make([]byte, MaxTxBytes+1), ErrTxTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeTx(c, tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAddressBech32(t *testing.T) {
	k, _ := PrivKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	a := k.PubKey().Address()
	s := a.String()
	if s[:5] != "dure1" {
		t.Fatalf("address %q lacks dure1 prefix", s)
	}
	back, err := ParseAddress(s)
	if err != nil || back != a {
		t.Fatalf("round trip: %v %v", back, err)
	}
	bad := []string{"", "cosmos1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", s[:len(s)-1] + "x", s[:10]}
	for _, b := range bad {
		if _, err := ParseAddress(b); !errors.Is(err, ErrBadAddress) {
			t.Errorf("ParseAddress(%q) = %v, want ErrBadAddress", b, err)
		}
	}
}

func TestMerkleProofs(t *testing.T) {
	for n := 1; n <= 17; n++ {
		leaves := make([][]byte, n)
		for i := range leaves {
			leaves[i] = []byte{byte(i), byte(n)}
		}
		root := MerkleRoot(leaves)
		for i := range leaves {
			p, err := MerkleProve(leaves, i)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Verify(root, leaves[i]); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			if err := p.Verify(root, []byte("other")); !errors.Is(err, ErrBadProof) {
				t.Fatalf("n=%d i=%d: wrong leaf verified", n, i)
			}
		}
	}
	// RFC 6962 known answer: the empty tree hashes to sha256("").
	if got := MerkleRoot(nil).String(); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty root %s", got)
	}
}

func TestCommitVerification(t *testing.T) {
	c := MustCodec()
	var keys []PrivKey
	var vals []Validator
	for i := 0; i < 4; i++ {
		k, _ := PrivKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, 32))
		keys = append(keys, k)
		vals = append(vals, Validator{Address: k.PubKey().Address(), PubKey: k.PubKey(), Power: 10})
	}
	vs, err := NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	block := IDOf([]byte("block"))
	sign := func(n int) *Commit {
		cm := &Commit{Height: 5, Round: 1, BlockID: block}
		for _, k := range keys[:n] {
			cm.Sigs = append(cm.Sigs, CommitSig{Validator: k.PubKey().Address(),
				Sig: k.Sign(VoteSignBytes(c, "test-1", Precommit, 5, 1, block))})
		}
		return cm
	}
	if err := VerifyCommit(c, "test-1", vs, sign(3), 5, block); err != nil {
		t.Fatalf("3 of 4: %v", err)
	}
	if err := VerifyCommit(c, "test-1", vs, sign(2), 5, block); !errors.Is(err, ErrInvalidCommit) {
		t.Fatalf("2 of 4 accepted: %v", err)
	}
	if err := VerifyCommit(c, "other-chain", vs, sign(4), 5, block); !errors.Is(err, ErrInvalidCommit) {
		t.Fatalf("wrong chain accepted: %v", err)
	}
	dup := sign(3)
	dup.Sigs[2] = dup.Sigs[0]
	if err := VerifyCommit(c, "test-1", vs, dup, 5, block); !errors.Is(err, ErrInvalidCommit) {
		t.Fatalf("duplicate signer accepted: %v", err)
	}
}

// TestValidateBasicWithTxRoot: given the txs' own root it decides as
// ValidateBasic does, for a good block and for one whose txs do not match
// its header; given another root it refuses.
func TestValidateBasicWithTxRoot(t *testing.T) {
	c := MustCodec()
	txs := [][]byte{[]byte("a"), []byte("bb"), []byte("ccc")}
	b := &Block{Header: Header{ChainID: "c-1", Height: 1, TxRoot: TxRoot(txs),
		LastCommitHash: CommitHash(c, nil), EvidenceHash: EvidenceHash(c, nil)}, Txs: txs}
	if err := b.ValidateBasic(c); err != nil {
		t.Fatal(err)
	}
	if err := b.ValidateBasicWithTxRoot(c, TxRoot(b.Txs)); err != nil {
		t.Fatalf("with its own root: %v", err)
	}
	if err := b.ValidateBasicWithTxRoot(c, TxRoot(txs[:2])); !errors.Is(err, ErrBlockMalformed) {
		t.Fatalf("with another root: %v", err)
	}
	bad := *b
	bad.Txs = [][]byte{[]byte("a"), []byte("bx"), []byte("ccc")}
	want := bad.ValidateBasic(c)
	if got := bad.ValidateBasicWithTxRoot(c, TxRoot(bad.Txs)); want == nil || got == nil || got.Error() != want.Error() {
		t.Fatalf("txs not matching the header: %v, ValidateBasic %v", got, want)
	}
}
