package notes

import "github.com/dure-network/dure/chain"

// ModuleName routes messages to notes and prefixes its state.
const ModuleName = "notes"

// Message types.
const (
	TypePost   = "post"
	TypeDelete = "delete"
)

// Limits on message fields.
const (
	MaxTopicLen = 32
	MaxTextLen  = 280
	// MaxExpiriesPerBlock bounds EndBlock's work; the rest wait a block.
	MaxExpiriesPerBlock = 64
)

// Post publishes Text under Topic; TTL > 0 removes it TTL seconds after
// the block that includes it.
type Post struct {
	_     struct{} `cbor:",toarray"`
	Topic string
	Text  string
	TTL   int64
}

// Delete removes note ID; only its author may.
type Delete struct {
	_  struct{} `cbor:",toarray"`
	ID uint64
}

// MsgPost builds a post message.
func MsgPost(c *chain.Codec, topic, text string, ttlSeconds int64) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypePost, Post{Topic: topic, Text: text, TTL: ttlSeconds})
}

// MsgDelete builds a delete message.
func MsgDelete(c *chain.Codec, id uint64) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeDelete, Delete{ID: id})
}
