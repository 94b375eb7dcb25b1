package chain

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Snapshot is a module's genesis section in snapshot form: every key and
// value of its state, verbatim, in key order. A module whose state holds
// more than its ordinary genesis can express (balances in lots with their
// expiry, settlements, signing windows, unbonding queues) exports this
// form, so a chain restarted from the export has the same state root.
type Snapshot struct {
	Snapshot []SnapshotEntry `json:"snapshot"`
}

// SnapshotEntry is one key (relative to the module's prefix) and value.
type SnapshotEntry struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
}

// ExportSnapshot reads a module's whole state into snapshot form.
func ExportSnapshot(r KVReader) (json.RawMessage, error) {
	s := Snapshot{Snapshot: []SnapshotEntry{}}
	err := r.Iterate(nil, func(k, v []byte) (bool, error) {
		s.Snapshot = append(s.Snapshot, SnapshotEntry{Key: bytes.Clone(k), Value: bytes.Clone(v)})
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return json.Marshal(s)
}

// ParseSnapshot reports whether raw is a genesis section in snapshot form
// (an object whose only member is "snapshot") and decodes it. Keys must be
// strictly ascending and values non-empty.
func ParseSnapshot(raw json.RawMessage) (*Snapshot, bool, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil || len(probe) != 1 || probe["snapshot"] == nil {
		return nil, false, nil
	}
	var s Snapshot
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, true, fmt.Errorf("snapshot: %w", err)
	}
	for i, e := range s.Snapshot {
		if len(e.Key) == 0 || len(e.Value) == 0 {
			return nil, true, fmt.Errorf("snapshot: entry %d: empty key or value", i)
		}
		if i > 0 && bytes.Compare(s.Snapshot[i-1].Key, e.Key) >= 0 {
			return nil, true, fmt.Errorf("snapshot: entry %d: keys not strictly ascending", i)
		}
	}
	return &s, true, nil
}

// WriteTo writes every entry into the module's store.
func (s *Snapshot) WriteTo(kv KVStore) error {
	for _, e := range s.Snapshot {
		if err := kv.Set(e.Key, e.Value); err != nil {
			return err
		}
	}
	return nil
}

// Reader reads the snapshot as a module's state.
func (s *Snapshot) Reader() KVReader { return snapshotReader{s} }

type snapshotReader struct{ s *Snapshot }

func (r snapshotReader) Get(k []byte) ([]byte, error) {
	for _, e := range r.s.Snapshot {
		if bytes.Equal(e.Key, k) {
			return e.Value, nil
		}
	}
	return nil, nil
}

func (r snapshotReader) Iterate(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	for _, e := range r.s.Snapshot {
		if !bytes.HasPrefix(e.Key, prefix) {
			continue
		}
		stop, err := fn(e.Key, e.Value)
		if err != nil || stop {
			return err
		}
	}
	return nil
}
