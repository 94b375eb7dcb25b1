// Package state is dure's authenticated application state: key/value pairs
// held flat in Badger for fast reads and, over the same pairs, a sparse
// Merkle trie (pokt-network/smt, sha2-256) whose root goes in every block
// header, so any value or absence can be proven to a light client.
//
// # Storage
//
// The package shares the node's single Badger database, opened in managed
// mode by chain/store. A version is a Badger commit timestamp (the store
// chooses it; Badger refuses timestamp 0, so the first commit uses 1 or
// more). Keys:
//
//	"s/" + key      → value         (flat values, ordered for Iterate)
//	"n/" + digest   → trie node     (content addressed)
//	"r/stateroot"   → 32-byte root  (one record, versioned by Badger)
//
// Reading at timestamp V sees version V of all three, so Reader(V),
// Root(V) and Prove(V, key) need no per-version bookkeeping. Nodes a block
// orphans are deleted at that block's timestamp: older versions keep them
// until the store discards those versions (SetDiscardTs).
//
// # Use
//
//	st, _ := state.New(db, headVersion, headRoot)
//	b := st.Branch()               // overlay on the committed head
//	tx := b.Branch()               // per-transaction overlay
//	... tx.Set / tx.Get ...
//	tx.Write()                     // keep (or drop tx to revert)
//	p, _ := st.Stage(b)            // new root; nothing written yet
//	p.WriteTo(blockBatch)          // store adds it to the block's batch
//	st.Committed(p, version)       // after the batch is durable
//
// Several candidates may be staged from one head; committing one makes the
// others stale (Committed and Stage refuse them). Values must be non-empty:
// absence is the only empty state, because a proof cannot tell the two
// apart.
//
// Proofs: Prove returns a Proof (JSON and canonical CBOR) that VerifyProof
// checks against a root with no database.
package state
