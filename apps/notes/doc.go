// Package notes is the example app module: a public notice board. Anyone
// posts a short note under a topic, optionally with a time to live; the
// author may delete it; EndBlock removes notes whose time is up. It is
// deliberately small, and shows everything a module author writes to plug
// into dure (see README "Writing an app module"):
//
//   - module.go: the chain.Module methods (Name, InitGenesis, Deliver,
//     Query) and the optional capabilities it holds: chain.EndBlocker,
//     chain.GenesisExporter and chain.Describer;
//   - msgs.go: message types and their constructors;
//   - describe.go: the message and query descriptions from which
//     `dure tx notes …` and `dure query notes …` are built, with help,
//     examples and the checks that refuse a typo before any fee is spent;
//   - notes_test.go: tests on chain/moduletest (real state, proofs,
//     blocks with times, genesis export and re-import).
//
// The node lists it with one line in node/app.go (registerModules).
//
// # State
//
// Under the module's prefix "notes/":
//
//	"s"                         → next note id, 8 bytes big-endian
//	"n/" + id (8 bytes BE)      → Note, canonical CBOR
//	"t/" + topic + 0x00 + id    → marker: the topic index
//	"e/" + expiry (8 bytes BE) + id → marker: the expiry queue (Unix seconds)
//
// # Messages
//
//	post   topic (1..32 bytes of a-z, 0-9, '-'), text (1..280 bytes), ttl seconds (0: forever)
//	delete id (the author only)
//
// # Queries
//
//	note  id         → Note
//	notes [topic] [limit] → []Note, by id (only the topic's with topic)
//	count            → {"next_id": …}
//
// # Genesis
//
//	{"next_id": 3, "notes": [{"id": 0, "author": "dure1…", "topic": "garden", "text": "…", …}]}
//
// ExportGenesis writes exactly that from state, so a chain restarted from an
// export has the same notes and the same state root.
package notes
