package notes

import "github.com/dure-network/dure/chain"

// Describe tells clients notes' messages and queries (chain.Describer).
func (m *Module) Describe() chain.Description {
	topic := chain.Field{Name: "topic", Kind: chain.FieldString, Max: MaxTopicLen, Help: "topic: a-z, 0-9 and '-'", Check: validTopic}
	id := chain.Field{Name: "id", Kind: chain.FieldUint, Required: true, Help: "note id"}
	return chain.Description{
		Short: "A public notice board: post short notes under a topic (the example module)",
		Msgs: []chain.MsgDesc{
			{Type: TypePost, Short: "Post a note under a topic, optionally for a limited time",
				Examples: []string{
					`dure tx notes post --from alice --topic garden --text "Tomato seedlings free at no. 12"`,
					`dure tx notes post --from alice --topic lost-found --text "Found: a blue scarf" --ttl 168h`,
				},
				Fields: []chain.Field{
					func() chain.Field { f := topic; f.Required = true; return f }(),
					{Name: "text", Kind: chain.FieldString, Required: true, Max: MaxTextLen, Help: "the note, at most 280 bytes"},
					{Name: "ttl", Kind: chain.FieldDuration, Help: "remove the note after this long, e.g. 168h (0: keep)"},
				},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgPost(c, v.String("topic"), v.String("text"), v.Seconds("ttl"))
				}},
			{Type: TypeDelete, Short: "Delete one of your notes",
				Examples: []string{"dure tx notes delete --from alice --id 0"},
				Fields:   []chain.Field{id},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgDelete(c, v.Uint("id"))
				}},
		},
		Queries: []chain.QueryDesc{
			{Path: "note", Short: "One note", Args: []chain.Field{id},
				Examples: []string{"dure query notes note --arg id=0"}},
			{Path: "notes", Short: "Notes by id, all or one topic's",
				Args:     []chain.Field{topic, {Name: "limit", Kind: chain.FieldUint, Min: 1, Max: maxQueryItems, Help: "at most this many"}},
				Examples: []string{"dure query notes notes", "dure query notes notes --arg topic=garden"}},
			{Path: "count", Short: "The next note id", Examples: []string{"dure query notes count"}},
		},
	}
}
