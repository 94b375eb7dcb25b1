package chain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrBadTime is returned for a time that is neither RFC 3339 nor, in JSON,
// an integer of Unix nanoseconds.
var ErrBadTime = errors.New("bad time")

// Time is block time: Unix nanoseconds, UTC. Headers, block info handed to
// modules, and every message, state value and query answer that holds a
// point in time use it, so a point in time cannot be mixed up with a count
// of seconds: converting to or from anything else is an explicit call
// (TimeOf, UnixSeconds, Unix, Std). In CBOR it is a plain integer (the
// encoding of the int64 it replaced, so hashes and state roots are
// unchanged); in JSON it is an RFC 3339 string with nanoseconds, e.g.
// "2027-12-31T23:59:59Z", and integer Unix nanoseconds are accepted on
// input for records written before it.
type Time int64

// TimeOf converts a time.Time.
func TimeOf(t time.Time) Time { return Time(t.UnixNano()) }

// UnixSeconds makes the Time of a count of seconds since 1970.
func UnixSeconds(s int64) Time { return Time(s * int64(time.Second)) }

// Std is t as a time.Time in UTC.
func (t Time) Std() time.Time { return time.Unix(0, int64(t)).UTC() }

// Unix is t in whole seconds since 1970 (rounded down).
func (t Time) Unix() int64 {
	s := int64(t) / int64(time.Second)
	if int64(t)%int64(time.Second) < 0 {
		s--
	}
	return s
}

// UnixNano is t in nanoseconds since 1970.
func (t Time) UnixNano() int64 { return int64(t) }

// Add is t + d.
func (t Time) Add(d time.Duration) Time { return t + Time(d) }

// Sub is t - u.
func (t Time) Sub(u Time) time.Duration { return time.Duration(t - u) }

// IsZero reports the zero value (no time set).
func (t Time) IsZero() bool { return t == 0 }

// String is RFC 3339 with nanoseconds.
func (t Time) String() string { return t.Std().Format(time.RFC3339Nano) }

// ParseTime parses RFC 3339 (e.g. 2027-12-31T23:59:59Z).
func ParseTime(s string) (Time, error) {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: use RFC 3339, e.g. 2027-12-31T23:59:59Z", ErrBadTime, s)
	}
	return TimeOf(v), nil
}

// MarshalJSON writes RFC 3339 with nanoseconds.
func (t Time) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// UnmarshalJSON reads RFC 3339, or an integer of Unix nanoseconds.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("%w: %w", ErrBadTime, err)
		}
		v, err := ParseTime(s)
		if err != nil {
			return err
		}
		*t = v
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s: want an RFC 3339 string", ErrBadTime, b)
	}
	*t = Time(n)
	return nil
}
