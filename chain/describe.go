package chain

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Describer is the capability of a module to describe its messages and
// queries, so the CLI (`dure tx <module> <msg>`, `dure query <module>
// <path>`) and other clients are generic: they build flags, help, examples
// and client-side checks from the description alone.
type Describer interface {
	Describe() Description
}

// Description is what a module tells clients about itself.
type Description struct {
	Short   string // one line: what the module is for
	Long    string // optional paragraph for --help
	Msgs    []MsgDesc
	Queries []QueryDesc
}

// MsgDesc describes one message type.
type MsgDesc struct {
	Type     string   // chain.Msg.Type, also the CLI subcommand
	Short    string   // one line
	Long     string   // optional
	Examples []string // full command lines, "dure tx <module> <type> …"
	Fields   []Field
	// Build makes the message from values that passed ParseValues.
	// It may refuse combinations the fields alone cannot express,
	// wrapping ErrInvalidMsg; that is still refused before signing.
	Build func(c *Codec, v Values) (Msg, error)
}

// QueryDesc describes one query path.
type QueryDesc struct {
	Path     string
	Short    string
	Args     []Field
	Examples []string // full command lines, "dure query <module> <path> …"
}

// FieldKind is how a field is written on the command line and checked
// before anything is signed or sent.
type FieldKind uint8

// Field kinds.
const (
	FieldString   FieldKind = iota // free text; Max bounds its length in bytes
	FieldUint                      // decimal integer within [Min, Max]
	FieldBool                      // a switch, true when given
	FieldAddress                   // dure1… (the CLI also accepts a key name)
	FieldDuration                  // Go duration such as 26280h; whole seconds
	FieldTime                      // RFC 3339 such as 2027-12-31T23:59:59Z; a Time
	FieldList                      // comma-separated strings; Max bounds the count
	FieldEnum                      // one of Enum
)

var kindNames = [...]string{"string", "uint", "bool", "address", "duration", "time", "list", "enum"}

func (k FieldKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Field is one message field or query argument.
type Field struct {
	Name     string // kebab-case flag or argument name: "holding-cap"
	Kind     FieldKind
	Help     string
	Default  string   // as written on the command line; "" is the zero value
	Required bool     // must be given (and, for strings, not empty)
	Enum     []string // FieldEnum: the accepted values
	// Min and Max bound a FieldUint (Max 0 means no bound beyond Bits);
	// Max bounds a FieldString's length and a FieldList's count.
	Min, Max uint64
	Bits     int // FieldUint: 8, 16, 32 or 64 (0 means 64)
	// Check, when set, is the module's own check of a given raw value
	// (say, a denom's spelling), run after the kind's checks.
	Check func(raw string) error
}

// ErrBadField is wrapped by every client-side refusal of a field value.
var ErrBadField = errors.New("invalid field")

// Values are checked field values by name. Build reads them with the
// getter matching the field's kind.
type Values struct {
	// Signer is the public key that will sign the transaction (zero for
	// queries).
	Signer PubKey
	vals   map[string]any
	given  map[string]bool
}

// Given reports whether the field was set explicitly.
func (v Values) Given(name string) bool { return v.given[name] }

func (v Values) get(name string) any {
	x, ok := v.vals[name]
	if !ok {
		panic(fmt.Sprintf("chain: Values has no field %q", name)) // a description bug
	}
	return x
}

// String is a FieldString or FieldEnum value.
func (v Values) String(name string) string { return v.get(name).(string) }

// Uint is a FieldUint value.
func (v Values) Uint(name string) uint64 { return v.get(name).(uint64) }

// Bool is a FieldBool value.
func (v Values) Bool(name string) bool { return v.get(name).(bool) }

// Address is a FieldAddress value (zero when not given).
func (v Values) Address(name string) Address { return v.get(name).(Address) }

// Seconds is a FieldDuration value in whole seconds.
func (v Values) Seconds(name string) int64 { return v.get(name).(int64) }

// Time is a FieldTime value (zero when not given).
func (v Values) Time(name string) Time { return v.get(name).(Time) }

// List is a FieldList value (nil when not given).
func (v Values) List(name string) []string { return v.get(name).([]string) }

// Strings returns the values as the strings a query takes (addresses in
// bech32), leaving out fields that were neither given nor defaulted.
func (v Values) Strings(fields []Field) map[string]string {
	out := map[string]string{}
	for _, f := range fields {
		if !v.given[f.Name] && f.Default == "" {
			continue
		}
		switch x := v.vals[f.Name].(type) {
		case string:
			out[f.Name] = x
		case uint64:
			out[f.Name] = strconv.FormatUint(x, 10)
		case bool:
			out[f.Name] = strconv.FormatBool(x)
		case Address:
			out[f.Name] = x.String()
		case int64:
			out[f.Name] = strconv.FormatInt(x, 10)
		case []string:
			out[f.Name] = strings.Join(x, ",")
		}
	}
	return out
}

// CheckValue checks one raw value against f, as a flag parser does when
// the flag is set: the CLI refuses a typo such as `--transfer merchant`
// right there.
// The error, wrapping ErrBadField, says only what is wrong with the value,
// since a flag parser names the flag and value itself.
func (f Field) CheckValue(raw string) error {
	_, err := f.parse(raw)
	var fe *fieldError
	if errors.As(err, &fe) {
		return fmt.Errorf("%w: %s", ErrBadField, fe.reason)
	}
	return err
}

// fieldError is a refused value of a named field.
type fieldError struct{ name, raw, reason string }

func (e *fieldError) Error() string {
	return fmt.Sprintf("%v: --%s %q: %s", ErrBadField, e.name, e.raw, e.reason)
}

func (e *fieldError) Unwrap() error { return ErrBadField }

func (f Field) parse(raw string) (any, error) {
	v, err := f.parseKind(raw)
	if err == nil && f.Check != nil && raw != "" {
		if cerr := f.Check(raw); cerr != nil {
			return nil, &fieldError{name: f.Name, raw: raw, reason: cerr.Error()}
		}
	}
	return v, err
}

func (f Field) parseKind(raw string) (any, error) {
	bad := func(format string, a ...any) error {
		return &fieldError{name: f.Name, raw: raw, reason: fmt.Sprintf(format, a...)}
	}
	switch f.Kind {
	case FieldString:
		if f.Max > 0 && uint64(len(raw)) > f.Max {
			return nil, bad("at most %d bytes", f.Max)
		}
		return raw, nil
	case FieldEnum:
		if raw == "" && !f.Required {
			return "", nil
		}
		if !slices.Contains(f.Enum, raw) {
			return nil, bad("want %s", orList(f.Enum))
		}
		return raw, nil
	case FieldUint:
		if raw == "" {
			return uint64(0), nil // not given: bounds apply to given values
		}
		bits := f.Bits
		if bits == 0 {
			bits = 64
		}
		n, err := strconv.ParseUint(raw, 10, bits)
		if err != nil {
			return nil, bad("want a whole number from 0 to %d", uint64(math.MaxUint64)>>(64-bits))
		}
		if n < f.Min || (f.Max > 0 && n > f.Max) {
			if f.Max > 0 {
				return nil, bad("want %d to %d", f.Min, f.Max)
			}
			return nil, bad("want at least %d", f.Min)
		}
		return n, nil
	case FieldBool:
		if raw == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, bad("want true or false")
		}
		return b, nil
	case FieldAddress:
		if raw == "" {
			return Address{}, nil
		}
		a, err := ParseAddress(raw)
		if err != nil {
			return nil, bad("want a dure1... address: %v", err)
		}
		return a, nil
	case FieldDuration:
		if raw == "" {
			return int64(0), nil
		}
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			return nil, bad("want a duration such as 720h or 90s")
		}
		return int64(d / time.Second), nil
	case FieldTime:
		if raw == "" {
			return Time(0), nil
		}
		t, err := ParseTime(raw)
		if err != nil {
			return nil, bad("use RFC 3339, e.g. 2027-12-31T23:59:59Z")
		}
		return t, nil
	case FieldList:
		if raw == "" {
			return []string(nil), nil
		}
		items := strings.Split(raw, ",")
		if f.Max > 0 && uint64(len(items)) > f.Max {
			return nil, bad("at most %d items", f.Max)
		}
		return items, nil
	}
	return nil, bad("field kind %s is not supported", f.Kind)
}

func orList(xs []string) string {
	switch len(xs) {
	case 0:
		return "nothing"
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// ParseValues checks raw values (by field name; absent means not given)
// against fields: kinds, enums, ranges, required fields and names that no
// field has. Every error wraps ErrBadField.
func ParseValues(fields []Field, raw map[string]string, signer PubKey) (Values, error) {
	v := Values{Signer: signer, vals: make(map[string]any, len(fields)), given: map[string]bool{}}
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		known[f.Name] = true
	}
	var unknown []string
	for name := range raw {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = f.Name
		}
		want := "none"
		if len(names) > 0 {
			want = strings.Join(names, ", ")
		}
		return Values{}, fmt.Errorf("%w: unknown %s (this takes: %s)", ErrBadField, strings.Join(unknown, ", "), want)
	}
	for _, f := range fields {
		s, ok := raw[f.Name]
		v.given[f.Name] = ok
		if !ok {
			if f.Required {
				return Values{}, fmt.Errorf("%w: --%s is required", ErrBadField, f.Name)
			}
			s = f.Default
		}
		if ok && f.Required && s == "" {
			return Values{}, fmt.Errorf("%w: --%s must not be empty", ErrBadField, f.Name)
		}
		x, err := f.parse(s)
		if err != nil {
			return Values{}, err
		}
		v.vals[f.Name] = x
	}
	return v, nil
}

// FindMsg returns the description of message type typ.
func (d Description) FindMsg(typ string) (MsgDesc, bool) {
	for _, m := range d.Msgs {
		if m.Type == typ {
			return m, true
		}
	}
	return MsgDesc{}, false
}

// FindQuery returns the description of query path.
func (d Description) FindQuery(path string) (QueryDesc, bool) {
	for _, q := range d.Queries {
		if q.Path == path {
			return q, true
		}
	}
	return QueryDesc{}, false
}
