package currency

import (
	"bytes"
	"testing"

	"github.com/dure-network/dure/chain"
)

// FuzzFastBodies: whenever the reflection-free decoder takes a body, the
// generic canonical decoder takes it too and gives the same value; and
// every canonical Send and Pay of ASCII strings is taken.
func FuzzFastBodies(f *testing.F) {
	c := chain.MustCodec()
	var a chain.Address
	for i := range a {
		a[i] = byte(i * 13)
	}
	for _, amt := range []uint64{0, 1, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<64 - 1} {
		s, _ := MsgSend(c, a, "nw", amt)
		p, _ := MsgPay(c, a, "dure", amt, "food")
		f.Add([]byte(s.Body))
		f.Add([]byte(p.Body))
	}
	long, _ := MsgPay(c, a, "nw", 7, string(bytes.Repeat([]byte("x"), 40)))
	f.Add([]byte(long.Body))
	f.Add([]byte{0x83, 0x54})
	f.Fuzz(func(t *testing.T, body []byte) {
		if s, ok := fastSend(body); ok {
			var want Send
			if err := c.UnmarshalCanonical(body, &want); err != nil {
				t.Fatalf("fast decoder took a send body %x the generic one refuses: %v", body, err)
			}
			if s != want {
				t.Fatalf("send %x: fast %+v, generic %+v", body, s, want)
			}
		} else {
			var v Send
			if c.UnmarshalCanonical(body, &v) == nil && isASCII(v.Denom) {
				t.Fatalf("canonical send %x (%+v) not taken", body, v)
			}
		}
		if p, ok := fastPay(body); ok {
			var want Pay
			if err := c.UnmarshalCanonical(body, &want); err != nil {
				t.Fatalf("fast decoder took a pay body %x the generic one refuses: %v", body, err)
			}
			if p != want {
				t.Fatalf("pay %x: fast %+v, generic %+v", body, p, want)
			}
		} else {
			var v Pay
			if c.UnmarshalCanonical(body, &v) == nil && isASCII(v.Denom) && isASCII(v.Category) {
				t.Fatalf("canonical pay %x (%+v) not taken", body, v)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// TestFastBodiesRefuse: shapes the fast path must leave to the generic
// decoder (which then refuses them or decodes them itself).
func TestFastBodiesRefuse(t *testing.T) {
	c := chain.MustCodec()
	var a chain.Address
	s, _ := MsgSend(c, a, "nw", 300)
	good := []byte(s.Body)
	if _, ok := fastSend(good); !ok {
		t.Fatal("canonical send not taken")
	}
	cases := map[string][]byte{
		"trailing byte":    append(bytes.Clone(good), 0),
		"truncated":        good[:len(good)-1],
		"non-minimal int":  append(bytes.Clone(good[:len(good)-3]), 0x1a, 0, 0, 1, 0x2c),
		"short address":    append([]byte{0x83, 0x53}, make([]byte, 19)...),
		"four elements":    append([]byte{0x84}, good[1:]...),
		"non-ascii denom":  append(append([]byte{0x83, 0x54}, make([]byte, 20)...), 0x62, 0xc3, 0xa9, 0x01),
		"indefinite array": append([]byte{0x9f}, good[1:]...),
		"empty":            {},
	}
	for name, b := range cases {
		if v, ok := fastSend(b); ok {
			t.Errorf("%s: taken as %+v", name, v)
		}
	}
}
