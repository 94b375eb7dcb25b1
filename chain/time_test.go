package chain

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestTimeEncodings: CBOR is the int64's (hashes unchanged), JSON is
// RFC 3339 and reads back; integers of Unix nanoseconds are still read.
func TestTimeEncodings(t *testing.T) {
	c := MustCodec()
	at := TimeOf(time.Date(2027, 12, 31, 23, 59, 59, 5, time.UTC))
	a, err := c.Marshal(at)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Marshal(at.UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Fatalf("CBOR of Time %x differs from its int64's %x", a, b)
	}
	h := Header{ChainID: "t-1", Height: 3, Time: at}
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var back Header
	if err := json.Unmarshal(j, &back); err != nil || back.Time != at || back.ID(c) != h.ID(c) {
		t.Fatalf("JSON round trip %s: %v %v", j, back.Time, err)
	}
	for _, tc := range []struct {
		in   string
		want Time
		err  error
	}{
		{`"2027-12-31T23:59:59.000000005Z"`, at, nil},
		{`"2027-12-31T23:59:59Z"`, UnixSeconds(at.Unix()), nil},
		{`1830297599000000005`, at, nil},
		{`"1830297599"`, 0, ErrBadTime},
		{`1.5`, 0, ErrBadTime},
	} {
		var got Time
		err := json.Unmarshal([]byte(tc.in), &got)
		if !errors.Is(err, tc.err) || (tc.err == nil && got != tc.want) {
			t.Errorf("%s: %v %v, want %v %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if UnixSeconds(-1).Unix() != -1 || Time(-1).Unix() != -1 || at.Unix() != 1830297599 {
		t.Fatal("Unix rounds down")
	}
}

// TestParseIDCanonicalOnly: a CID whose last base32 character differs
// only in unused bits decodes to the same bytes; it is refused.
func TestParseIDCanonicalOnly(t *testing.T) {
	id := IDOf([]byte("tx"))
	s := id.String()
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	for _, bit := range []int{1, 2} {
		alt := s[:len(s)-1] + string(alphabet[i^bit])
		if _, err := ParseID(alt); !errors.Is(err, ErrNonCanonicalID) {
			t.Errorf("%s (last character %c): %v, want ErrNonCanonicalID", alt, alt[len(alt)-1], err)
		}
	}
	if got, err := ParseID(s); err != nil || got != id {
		t.Fatalf("canonical %s: %v", s, err)
	}
	if _, err := ParseID(strings.ToUpper(s)); err == nil {
		t.Fatal("upper-case base32 accepted")
	}
}
