package notes

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/dure-network/dure/chain"
)

// Sentinel errors, each wrapped with the chain error class that sets the
// tx result code.
var (
	ErrBadTopic  = errors.New("notes: bad topic")
	ErrBadText   = errors.New("notes: bad text")
	ErrNoNote    = errors.New("notes: no such note")
	ErrNotAuthor = errors.New("notes: not the author")
	ErrCorrupt   = errors.New("notes: corrupt state")
)

// Note is a stored note.
type Note struct {
	_       struct{}      `cbor:",toarray"`
	ID      uint64        `json:"id"`
	Author  chain.Address `json:"author"`
	Topic   string        `json:"topic"`
	Text    string        `json:"text"`
	Height  uint64        `json:"height"`
	Time    int64         `json:"time"`              // block time, Unix seconds
	Expires int64         `json:"expires,omitempty"` // Unix seconds; 0 never
}

// Module is the notes module.
type Module struct {
	key   *chain.StoreKey
	codec *chain.Codec
}

// The capabilities notes holds, besides chain.Module.
var (
	_ chain.Module          = (*Module)(nil)
	_ chain.EndBlocker      = (*Module)(nil)
	_ chain.GenesisExporter = (*Module)(nil)
	_ chain.Describer       = (*Module)(nil)
)

// New builds the module over its store key and the chain codec.
func New(key *chain.StoreKey, codec *chain.Codec) *Module { return &Module{key: key, codec: codec} }

// Name is "notes".
func (m *Module) Name() string { return ModuleName }

var (
	keySeq     = []byte("s")
	prefixNote = []byte("n/")
	prefixTop  = []byte("t/")
	prefixExp  = []byte("e/")
	marker     = []byte{1}
)

func be(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func noteKey(id uint64) []byte { return append(bytes.Clone(prefixNote), be(id)...) }

func topicPrefix(topic string) []byte {
	return append(append(bytes.Clone(prefixTop), topic...), 0)
}

func topicKey(topic string, id uint64) []byte { return append(topicPrefix(topic), be(id)...) }

func expKey(at int64, id uint64) []byte {
	return append(append(bytes.Clone(prefixExp), be(uint64(at))...), be(id)...)
}

func validTopic(t string) error {
	if len(t) == 0 || len(t) > MaxTopicLen {
		return fmt.Errorf("%w: %q: 1 to %d bytes", ErrBadTopic, t, MaxTopicLen)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w: %q: only a-z, 0-9 and '-'", ErrBadTopic, t)
		}
	}
	return nil
}

func validText(t string) error {
	if len(t) == 0 || len(t) > MaxTextLen {
		return fmt.Errorf("%w: %d bytes, want 1 to %d", ErrBadText, len(t), MaxTextLen)
	}
	return nil
}

// Deliver executes one message.
func (m *Module) Deliver(ctx *chain.Context, msg chain.Msg) error {
	kv := ctx.Store(m.key)
	switch msg.Type {
	case TypePost:
		var p Post
		if err := msg.DecodeBody(m.codec, &p); err != nil {
			return err
		}
		if err := validTopic(p.Topic); err != nil {
			return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
		}
		if err := validText(p.Text); err != nil {
			return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
		}
		if p.TTL < 0 {
			return fmt.Errorf("%w: ttl %d is negative", chain.ErrInvalidMsg, p.TTL)
		}
		id, err := m.getU64(kv, keySeq)
		if err != nil {
			return err
		}
		n := Note{ID: id, Author: ctx.Sender, Topic: p.Topic, Text: p.Text, Height: ctx.Block.Height, Time: ctx.Block.Time.Unix()}
		if p.TTL > 0 {
			n.Expires = n.Time + p.TTL
		}
		if err := m.put(kv, &n); err != nil {
			return err
		}
		if err := kv.Set(keySeq, be(id+1)); err != nil {
			return err
		}
		return ctx.Emit("notes.post", chain.Attr{Key: "id", Value: strconv.FormatUint(id, 10)},
			chain.Attr{Key: "author", Value: ctx.Sender.String()}, chain.Attr{Key: "topic", Value: p.Topic})
	case TypeDelete:
		var d Delete
		if err := msg.DecodeBody(m.codec, &d); err != nil {
			return err
		}
		n, err := m.get(kv, d.ID)
		if err != nil {
			return err
		}
		if n == nil {
			return fmt.Errorf("%w: %w: %d", chain.ErrInvalidMsg, ErrNoNote, d.ID)
		}
		if n.Author != ctx.Sender {
			return fmt.Errorf("%w: %w: note %d is %s's", chain.ErrUnauthorized, ErrNotAuthor, d.ID, n.Author)
		}
		if err := m.remove(kv, n); err != nil {
			return err
		}
		return ctx.Emit("notes.delete", chain.Attr{Key: "id", Value: strconv.FormatUint(d.ID, 10)})
	}
	return fmt.Errorf("%w: notes has no message %q", chain.ErrUnknownMsg, msg.Type)
}

func (m *Module) put(kv chain.KVStore, n *Note) error {
	raw, err := m.codec.Marshal(n)
	if err != nil {
		return err
	}
	if err := kv.Set(noteKey(n.ID), raw); err != nil {
		return err
	}
	if err := kv.Set(topicKey(n.Topic, n.ID), marker); err != nil {
		return err
	}
	if n.Expires > 0 {
		return kv.Set(expKey(n.Expires, n.ID), marker)
	}
	return nil
}

func (m *Module) remove(kv chain.KVStore, n *Note) error {
	if err := kv.Delete(noteKey(n.ID)); err != nil {
		return err
	}
	if err := kv.Delete(topicKey(n.Topic, n.ID)); err != nil {
		return err
	}
	if n.Expires > 0 {
		return kv.Delete(expKey(n.Expires, n.ID))
	}
	return nil
}

func (m *Module) get(r chain.KVReader, id uint64) (*Note, error) {
	raw, err := r.Get(noteKey(id))
	if err != nil || raw == nil {
		return nil, err
	}
	var n Note
	if err := m.codec.UnmarshalCanonical(raw, &n); err != nil {
		return nil, fmt.Errorf("%w: note %d: %v", ErrCorrupt, id, err)
	}
	return &n, nil
}

func (m *Module) getU64(r chain.KVReader, k []byte) (uint64, error) {
	v, err := r.Get(k)
	switch {
	case err != nil:
		return 0, err
	case v == nil:
		return 0, nil
	case len(v) != 8:
		return 0, fmt.Errorf("%w: %q holds %d bytes", ErrCorrupt, k, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// EndBlock removes notes whose time is up, oldest first, at most
// MaxExpiriesPerBlock per block.
func (m *Module) EndBlock(ctx *chain.Context) error {
	kv := ctx.Store(m.key)
	now := ctx.Block.Time.Unix() // expiry keys are in seconds
	var due []uint64
	err := kv.Iterate(prefixExp, func(k, _ []byte) (bool, error) {
		if len(k) != len(prefixExp)+16 {
			return true, fmt.Errorf("%w: expiry key %x", ErrCorrupt, k)
		}
		if int64(binary.BigEndian.Uint64(k[len(prefixExp):])) > now {
			return true, nil
		}
		due = append(due, binary.BigEndian.Uint64(k[len(prefixExp)+8:]))
		return len(due) >= MaxExpiriesPerBlock, nil
	})
	if err != nil {
		return fmt.Errorf("notes: expiry queue: %w", err)
	}
	for _, id := range due {
		n, err := m.get(kv, id)
		if err != nil {
			return err
		}
		if n == nil {
			return fmt.Errorf("%w: expiry of missing note %d", ErrCorrupt, id)
		}
		if err := m.remove(kv, n); err != nil {
			return err
		}
		if err := ctx.Emit("notes.expire", chain.Attr{Key: "id", Value: strconv.FormatUint(id, 10)}); err != nil {
			return err
		}
	}
	return nil
}

// maxQueryItems bounds list answers.
const maxQueryItems = 100

// Query answers "note" (id), "notes" ([topic], [limit]) and "count".
func (m *Module) Query(r chain.KVReader, path string, args map[string]string) (any, error) {
	switch path {
	case "note":
		id, err := strconv.ParseUint(args["id"], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: id %q", chain.ErrInvalidMsg, args["id"])
		}
		n, err := m.get(r, id)
		if err != nil {
			return nil, err
		}
		if n == nil {
			return nil, fmt.Errorf("%w: note %d", chain.ErrNotFound, id)
		}
		return n, nil
	case "notes":
		limit := maxQueryItems
		if s, ok := args["limit"]; ok {
			v, err := strconv.Atoi(s)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("%w: limit %q", chain.ErrInvalidMsg, s)
			}
			limit = min(v, maxQueryItems)
		}
		out := []Note{}
		if topic := args["topic"]; topic != "" {
			var ids []uint64
			p := topicPrefix(topic)
			err := r.Iterate(p, func(k, _ []byte) (bool, error) {
				if len(k) != len(p)+8 {
					return true, fmt.Errorf("%w: topic key %x", ErrCorrupt, k)
				}
				ids = append(ids, binary.BigEndian.Uint64(k[len(p):]))
				return len(ids) >= limit, nil
			})
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				n, err := m.get(r, id)
				if err != nil {
					return nil, err
				}
				if n == nil {
					return nil, fmt.Errorf("%w: topic index names missing note %d", ErrCorrupt, id)
				}
				out = append(out, *n)
			}
			return out, nil
		}
		err := r.Iterate(prefixNote, func(k, v []byte) (bool, error) {
			var n Note
			if err := m.codec.UnmarshalCanonical(v, &n); err != nil {
				return true, fmt.Errorf("%w: note %x: %v", ErrCorrupt, k, err)
			}
			out = append(out, n)
			return len(out) >= limit, nil
		})
		return out, err
	case "count":
		next, err := m.getU64(r, keySeq)
		return map[string]uint64{"next_id": next}, err
	}
	return nil, fmt.Errorf("%w: notes query %q", chain.ErrUnknownMsg, path)
}

// Genesis is the module's section of genesis.json.
type Genesis struct {
	NextID uint64 `json:"next_id"`
	Notes  []Note `json:"notes,omitempty"`
}

// InitGenesis loads the section (absent: no notes). Every note is checked
// as a post would be, and ids must be below next_id.
func (m *Module) InitGenesis(ctx *chain.Context, raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var g Genesis
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return fmt.Errorf("notes genesis: %w", err)
	}
	kv := ctx.Store(m.key)
	seen := map[uint64]bool{}
	for i := range g.Notes {
		n := &g.Notes[i]
		switch {
		case n.ID >= g.NextID || seen[n.ID]:
			return fmt.Errorf("notes genesis: notes[%d]: id %d repeated or not below next_id %d", i, n.ID, g.NextID)
		case validTopic(n.Topic) != nil, validText(n.Text) != nil, n.Expires < 0:
			return fmt.Errorf("notes genesis: notes[%d]: %w", i, errors.Join(validTopic(n.Topic), validText(n.Text)))
		}
		seen[n.ID] = true
		if err := m.put(kv, n); err != nil {
			return err
		}
	}
	if g.NextID > 0 {
		return kv.Set(keySeq, be(g.NextID))
	}
	return nil
}

// ExportGenesis writes the section from state (chain.GenesisExporter).
func (m *Module) ExportGenesis(r chain.KVReader) (json.RawMessage, error) {
	next, err := m.getU64(r, keySeq)
	if err != nil {
		return nil, err
	}
	g := Genesis{NextID: next}
	err = r.Iterate(prefixNote, func(k, v []byte) (bool, error) {
		var n Note
		if err := m.codec.UnmarshalCanonical(v, &n); err != nil {
			return true, fmt.Errorf("%w: note %x: %v", ErrCorrupt, k, err)
		}
		g.Notes = append(g.Notes, n)
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(g)
}
