package chain

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/btcsuite/btcd/btcutil/bech32"
)

// libraryString is how Address.String rendered before it was written out:
// the bech32 library's conversion and encoding.
func libraryString(t testing.TB, a Address) string {
	conv, err := bech32.ConvertBits(a[:], 8, 5, true)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bech32.Encode(AddressPrefix, conv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAddressStringMatchesBech32: the hand-written encoder renders every
// address exactly as the library does (event text is consensus-visible),
// and the text parses back.
func TestAddressStringMatchesBech32(t *testing.T) {
	addrs := []Address{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for i := 0; i < 20_000; i++ {
		var seed [8]byte
		binary.BigEndian.PutUint64(seed[:], uint64(i))
		sum := sha256.Sum256(seed[:])
		var a Address
		copy(a[:], sum[:])
		addrs = append(addrs, a)
	}
	for i := 0; i < AddressLen*8; i++ { // every single bit
		var a Address
		a[i/8] = 0x80 >> (i % 8)
		addrs = append(addrs, a)
	}
	for _, a := range addrs {
		got, want := a.String(), libraryString(t, a)
		if got != want {
			t.Fatalf("address %x: String %q, library %q", a[:], got, want)
		}
		back, err := ParseAddress(got)
		if err != nil || back != a {
			t.Fatalf("address %x: parse %q: %v %x", a[:], got, err, back[:])
		}
	}
}

// FuzzAddressString compares the encoder with the library on any 20 bytes.
func FuzzAddressString(f *testing.F) {
	f.Add(make([]byte, AddressLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Address
		copy(a[:], b)
		if got, want := a.String(), libraryString(t, a); got != want {
			t.Fatalf("address %x: String %q, library %q", a[:], got, want)
		}
	})
}

func BenchmarkAddressString(b *testing.B) {
	a := Address{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = libraryString(b, a)
		}
	})
	b.Run("String", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = a.String()
		}
	})
}
