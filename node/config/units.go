package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a Go duration string as written in the file ("500ms",
// "1s", "1m30s"). It stays a string so that a bad value is reported by
// Validate with its key; Validate guarantees it parses.
type Duration string

// Duration returns the parsed value, or 0 if it does not parse (which a
// validated Config rules out).
func (d Duration) Duration() time.Duration {
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return 0
	}
	return v
}

// ByteSize is a size in bytes, written in TOML either as an integer
// (67108864) or as a string with a unit ("64MiB", "64MB", "512KB").
// KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB powers of 1024;
// units are case-insensitive and "B" alone means bytes.
type ByteSize int64

var byteUnits = []struct {
	name string
	mult int64
}{
	{"tib", 1 << 40}, {"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10},
	{"tb", 1e12}, {"gb", 1e9}, {"mb", 1e6}, {"kb", 1e3},
	{"b", 1},
}

// ParseByteSize parses "64MiB", "64MB", "1000", "1000B".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range byteUnits {
		if num, ok := strings.CutSuffix(t, u.name); ok {
			t, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size: write whole bytes (1048576) or a whole number with a unit (\"64MiB\", \"64MB\", \"512KB\")", s)
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return ByteSize(n * mult), nil
}

// String renders the size with the largest unit that divides it exactly
// ("64MiB", "64MB", "1000"), so ParseByteSize(b.String()) == b.
func (b ByteSize) String() string {
	if b > 0 {
		best := byteUnits[len(byteUnits)-1]
		for _, u := range byteUnits {
			if int64(b)%u.mult == 0 && u.mult > best.mult {
				best = u
			}
		}
		if best.mult > 1 {
			return strconv.FormatInt(int64(b)/best.mult, 10) + unitName(best.name)
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

func unitName(lower string) string {
	switch lower {
	case "tib":
		return "TiB"
	case "gib":
		return "GiB"
	case "mib":
		return "MiB"
	case "kib":
		return "KiB"
	}
	return strings.ToUpper(lower)
}

// MarshalText renders String.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText parses a size string; TOML integers are assigned directly.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}
