package chain

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// decodeTxByCodec is DecodeTx as it was: the codec's UnmarshalCanonical
// (decode, reflective re-encode, compare), then ValidateBasic. DecodeTx
// must agree with it on every input.
func decodeTxByCodec(c *Codec, raw []byte) (*Tx, error) {
	if len(raw) > MaxTxBytes {
		return nil, ErrTxTooLarge
	}
	var tx Tx
	if err := c.UnmarshalCanonical(raw, &tx); err != nil {
		return nil, errors.Join(ErrTxMalformed, err)
	}
	if err := tx.ValidateBasic(); err != nil {
		return nil, err
	}
	return &tx, nil
}

// txShapes are encodings of every form the envelope can take: nil and
// empty slices, null and nested bodies, heads of each width.
func txShapes(t testing.TB) [][]byte {
	t.Helper()
	c := MustCodec()
	k, _ := PrivKeyFromSeed(bytes.Repeat([]byte{7}, SeedLen))
	body, _ := c.Marshal([]any{"dure1to", uint64(1 << 40), map[string]any{"a": []byte{1}, "b": -3}})
	var out [][]byte
	add := func(tx *Tx, sign bool) {
		var raw []byte
		var err error
		if sign {
			raw, err = tx.Sign(c, k)
		} else {
			raw, err = c.Marshal(tx)
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, raw)
	}
	msg := Msg{Module: "currency", Type: "send", Body: body}
	add(&Tx{ChainID: "c-1", Nonce: 0, MaxFee: 10, Msgs: []Msg{msg}}, true)
	add(&Tx{ChainID: strings.Repeat("x", 24), Nonce: 23, MaxFee: 24, Msgs: []Msg{msg, msg}}, true)
	add(&Tx{ChainID: strings.Repeat("y", 64), Nonce: 255, MaxFee: 256, Msgs: []Msg{{Module: "m", Type: "t", Body: []byte{0xf6}}}}, true)
	add(&Tx{ChainID: "c-1", Nonce: 65535, MaxFee: 65536, Msgs: []Msg{{Module: strings.Repeat("m", 32), Type: "t", Body: bytes.Repeat([]byte{0x40}, 1)}}}, true)
	add(&Tx{ChainID: "c-1", Nonce: 1<<32 - 1, MaxFee: 1 << 32, Msgs: []Msg{{Module: "m", Type: "t", Body: append([]byte{0x59, 0x01, 0x00}, make([]byte, 256)...)}}}, true)
	add(&Tx{ChainID: "c-1", Nonce: 1<<64 - 1, MaxFee: 1<<64 - 1, Msgs: []Msg{msg}}, true)
	add(&Tx{ChainID: "", Msgs: nil}, false)
	add(&Tx{ChainID: "c", Msgs: []Msg{}, Sig: []byte{}}, false)
	add(&Tx{ChainID: "c", Msgs: []Msg{{}}, Sig: make([]byte, 64)}, false)
	add(&Tx{ChainID: "c", Msgs: []Msg{msg}, Sig: make([]byte, 300)}, false)
	return out
}

// TestAppendTxMatchesCodec: for every shape, and for every value the
// decoder makes from one-byte mutations of them, appendTx writes what
// Codec.Marshal writes, and DecodeTx decides (and decodes) as the codec's
// UnmarshalCanonical path does.
func TestAppendTxMatchesCodec(t *testing.T) {
	c := MustCodec()
	accepted, rejectedNonCanon := 0, 0
	for _, raw := range txShapes(t) {
		for _, in := range mutations(raw) {
			checkTxCanonical(t, c, in)
			var tx Tx
			if c.Unmarshal(in, &tx) == nil {
				if txIsCanonical(&tx, in) {
					accepted++
				} else {
					rejectedNonCanon++
				}
			}
		}
	}
	if accepted < 10 || rejectedNonCanon < 10 {
		t.Fatalf("the mutations must reach both sides of the check: %d canonical, %d decodable but not canonical", accepted, rejectedNonCanon)
	}
	t.Logf("%d canonical, %d decodable but non-canonical inputs compared", accepted, rejectedNonCanon)
}

// mutations returns raw, then raw with each byte replaced by a few values,
// each byte dropped, and a non-shortest head (0x18 n) spliced in for each
// small head.
func mutations(raw []byte) [][]byte {
	out := [][]byte{raw}
	for i := range raw {
		for _, v := range []byte{raw[i] ^ 1, raw[i] + 1, raw[i] | 0x18, 0xf6, 0x40} {
			m := bytes.Clone(raw)
			m[i] = v
			out = append(out, m)
		}
		out = append(out, append(bytes.Clone(raw[:i]), raw[i+1:]...))
		if raw[i]&0x1f < 24 {
			m := append(bytes.Clone(raw[:i]), raw[i]&0xe0|24, raw[i]&0x1f)
			out = append(out, append(m, raw[i+1:]...))
		}
	}
	return out
}

func checkTxCanonical(t *testing.T, c *Codec, in []byte) {
	t.Helper()
	var tx Tx
	if c.Unmarshal(in, &tx) == nil {
		want, err := c.Marshal(&tx)
		if err != nil {
			t.Fatalf("codec cannot encode what it decoded from %x: %v", in, err)
		}
		if got := appendTx(nil, &tx); !bytes.Equal(got, want) {
			t.Fatalf("appendTx differs from the codec for %x:\n got %x\nwant %x", in, got, want)
		}
	}
	oldTx, oldErr := decodeTxByCodec(c, in)
	newTx, newErr := DecodeTx(c, in)
	switch {
	case (oldErr == nil) != (newErr == nil):
		t.Fatalf("%x: codec path err %v, DecodeTx err %v", in, oldErr, newErr)
	case oldErr != nil:
		for _, s := range []error{ErrTxMalformed, ErrTxTooLarge} {
			if errors.Is(oldErr, s) != errors.Is(newErr, s) {
				t.Fatalf("%x: codec path err %v, DecodeTx err %v", in, oldErr, newErr)
			}
		}
		if errors.Is(oldErr, ErrNonCanonical) != strings.Contains(newErr.Error(), ErrNonCanonical.Error()) {
			t.Fatalf("%x: codec path err %v, DecodeTx err %v", in, oldErr, newErr)
		}
	case !reflect.DeepEqual(oldTx, newTx):
		t.Fatalf("%x: decoded differently", in)
	}
}

// FuzzTxCanonical holds DecodeTx to the codec's UnmarshalCanonical path
// (same decision, same tx) and appendTx to Codec.Marshal, on the envelope
// shapes, their mutations and FuzzDecodeTx's corpus.
func FuzzTxCanonical(f *testing.F) {
	c := MustCodec()
	for _, raw := range txShapes(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkTxCanonical(t, c, data)
	})
}

// TestTxCanonicalOnDecodeTxCorpus runs the differential check over
// FuzzDecodeTx's committed corpus too.
func TestTxCanonicalOnDecodeTxCorpus(t *testing.T) {
	c := MustCodec()
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecodeTx", "*"))
	if len(files) == 0 {
		t.Fatal("no FuzzDecodeTx corpus")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in, ok := corpusBytes(b)
		if !ok {
			t.Fatalf("%s: not a []byte corpus file", f)
		}
		for _, m := range mutations(in) {
			checkTxCanonical(t, c, m)
		}
	}
}

// corpusBytes reads a one-value "go test fuzz v1" file holding a []byte.
func corpusBytes(b []byte) ([]byte, bool) {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		return nil, false
	}
	v, ok := strings.CutPrefix(lines[1], "[]byte(")
	if !ok {
		return nil, false
	}
	s, err := strconv.Unquote(strings.TrimSuffix(v, ")"))
	return []byte(s), err == nil
}
