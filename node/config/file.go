package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
)

// FileName is the config file's name inside the home directory.
const FileName = "config.toml"

const header = `# dure node configuration.
# Every key has a working default; delete a key to go back to it.
# Durations are strings such as "500ms" or "1s"; sizes are bytes or strings such as "64MiB".

`

// Write saves c to path with a comment above every key, atomically
// (temp file then rename). Home is not written: it is where the file is.
func Write(path string, c Config) error {
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := toml.NewEncoder(&buf)
	enc.SetIndentTables(false)
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("config: encode: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	f, err := os.CreateTemp(dir, ".config-*.toml")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	return nil
}

// Load reads path over Default(dir of path), so keys left out keep their
// defaults, rejects unknown keys, and validates the result. Home is set to
// the file's directory. A missing file gives an error wrapping
// fs.ErrNotExist (callers may then use Default).
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return parse(path, data)
}

func parse(path string, data []byte) (Config, error) {
	c := Default(filepath.Dir(path))
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, decodeError(path, data, err)
	}
	c.normalizeSubnets()
	if err := c.Validate(); err != nil {
		return Config{}, addPos(path, data, err)
	}
	return c, nil
}

// decodeError turns go-toml's errors into ones that name the key, where it
// is, and what the default looks like.
func decodeError(path string, data []byte, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for i := range strict.Errors {
			e := &strict.Errors[i]
			errs = append(errs, unknownKey(path, data, e))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		// go-toml reports some conversion errors (a float for a size)
		// without the key; find it by decoding one key at a time.
		if k, v, ok := locateKey(data); ok {
			fe := &FieldError{Pos: path, Key: keyName(k), Value: tomlValue(v), Msg: err.Error()}
			if line := findLine(data, fe.Key); line > 0 {
				fe.Pos = fmt.Sprintf("%s:%d", path, line)
			}
			return fe
		}
		return fmt.Errorf("config: %s: %w", path, err)
	}
	row, col := de.Position()
	pos := fmt.Sprintf("%s:%d:%d", path, row, col)
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	if len(de.Key()) == 0 {
		return fmt.Errorf("config: %s: %s", pos, msg)
	}
	if strings.HasPrefix(msg, "cannot decode") || strings.HasPrefix(msg, "cannot store") {
		msg = "wrong type"
	}
	if d, ok := defaultValue(de.Key()); ok {
		msg += "; write it like the default: " + d
	}
	return &FieldError{Pos: pos, Key: keyName(de.Key()), Msg: msg}
}

func unknownKey(path string, data []byte, e *toml.DecodeError) error {
	row, _ := e.Position()
	k := e.Key()
	fe := &FieldError{Pos: fmt.Sprintf("%s:%d", path, row), Key: keyName(k)}
	known := knownKeys(k[:len(k)-1])
	if len(k) == 2 && k[0] == "subnets" {
		fe.Key = "[[subnets]] " + k[1]
		fe.Msg = "unknown key"
		if s := closest(k[1], subnetKeys); s != "" {
			fe.Msg += fmt.Sprintf("; did you mean %s?", s)
		} else {
			fe.Msg += "; a [[subnets]] table takes " + strings.Join(subnetKeys, ", ")
		}
		return fe
	}
	if isTableHeader(data, row) {
		fe.Key = "[" + strings.Join(k, ".") + "]"
		fe.Msg = "unknown section; the sections are " + strings.Join(sections(), ", ")
	} else if len(k) == 1 || known != nil {
		fe.Msg = "unknown key"
		if s := closest(k[len(k)-1], known); s != "" {
			fe.Msg += fmt.Sprintf("; did you mean %s?", s)
		} else {
			fe.Msg += "; remove it (\"dure init\" writes a config listing every key)"
		}
	} else {
		fe.Key = "[" + strings.Join(k[:len(k)-1], ".") + "]"
		fe.Msg = "unknown section; the sections are " + strings.Join(sections(), ", ")
	}
	return fe
}

// isTableHeader reports whether line row (1-based) of data is a [table].
func isTableHeader(data []byte, row int) bool {
	lines := strings.Split(string(data), "\n")
	return row >= 1 && row <= len(lines) && strings.HasPrefix(strings.TrimSpace(lines[row-1]), "[")
}

// locateKey returns the first key of data (in sorted order) that fails to
// decode on its own, and its value.
func locateKey(data []byte) ([]string, any, bool) {
	var doc map[string]any
	if toml.Unmarshal(data, &doc) != nil {
		return nil, nil, false
	}
	var found []string
	var value any
	var walk func(prefix []string, m map[string]any) bool
	walk = func(prefix []string, m map[string]any) bool {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := append(append([]string{}, prefix...), k)
			if sub, ok := m[k].(map[string]any); ok {
				if walk(p, sub) {
					return true
				}
				continue
			}
			var mini any = m[k]
			for i := len(p) - 1; i >= 0; i-- {
				mini = map[string]any{p[i]: mini}
			}
			b, err := toml.Marshal(mini)
			if err != nil {
				continue
			}
			c := Default("")
			if toml.NewDecoder(bytes.NewReader(b)).DisallowUnknownFields().Decode(&c) != nil {
				found, value = p, m[k]
				return true
			}
		}
		return false
	}
	if walk(nil, doc) {
		return found, value, true
	}
	return nil, nil, false
}

// keyName renders ["consensus","timeout_propose"] as "[consensus] timeout_propose".
func keyName(k toml.Key) string {
	if len(k) == 1 {
		return k[0]
	}
	return "[" + strings.Join(k[:len(k)-1], ".") + "] " + k[len(k)-1]
}

// defaults is Default("") as a generic TOML tree: the source of the key
// list for suggestions and of the default shown in errors.
func defaults() map[string]any {
	var buf bytes.Buffer
	var m map[string]any
	if toml.NewEncoder(&buf).Encode(Default("")) != nil || toml.Unmarshal(buf.Bytes(), &m) != nil {
		return nil
	}
	return m
}

func lookup(k []string) (any, bool) {
	var cur any = defaults()
	for _, part := range k {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func defaultValue(k []string) (string, bool) {
	v, ok := lookup(k)
	if !ok {
		return "", false
	}
	return tomlValue(v), true
}

func tomlValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = tomlValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		return fmt.Sprint(x)
	}
}

// knownKeys lists the keys of the table at k, or nil if there is none.
func knownKeys(table []string) []string {
	v, ok := lookup(table)
	m, isMap := v.(map[string]any)
	if !ok || !isMap {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k, val := range m {
		if _, sub := val.(map[string]any); !sub || len(table) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func sections() []string {
	var out []string
	for k, v := range defaults() {
		if _, ok := v.(map[string]any); ok {
			out = append(out, "["+k+"]")
		}
	}
	out = append(out, "[[subnets]]")
	sort.Strings(out)
	return out
}

// closest returns the known key nearest to s by edit distance, if close.
func closest(s string, known []string) string {
	best, bestD := "", len(s)/2+2
	for _, k := range known {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// addPos adds the file path (and line, when the key is found) to
// validation errors from a loaded file.
func addPos(path string, data []byte, err error) error {
	var errs []error
	for _, e := range unjoin(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			cp := *fe
			cp.Pos = path
			line := findLine(data, fe.Key)
			if fe.entry > 0 {
				line = findSubnetLine(data, fe.entry, strings.TrimPrefix(fe.Key, "[[subnets]] "))
			}
			if line > 0 {
				cp.Pos = fmt.Sprintf("%s:%d", path, line)
			}
			e = &cp
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// findLine finds the line defining key ("[sec] name" or "name") in data,
// by a plain scan: good enough to point a person at the right line.
func findLine(data []byte, key string) int {
	section, name := "", key
	if strings.HasPrefix(key, "[") {
		if i := strings.Index(key, "] "); i > 0 {
			section, name = key[1:i], key[i+2:]
		}
	}
	cur := ""
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			cur = strings.TrimSpace(t[1 : len(t)-1])
			continue
		}
		if cur != section {
			continue
		}
		if k, _, ok := strings.Cut(t, "="); ok && strings.TrimSpace(k) == name {
			return i + 1
		}
	}
	return 0
}
