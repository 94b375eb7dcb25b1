// Package moduletest is the shared test harness for app modules: a real
// executor over real sparse-Merkle state in a Badger database in a
// temporary directory, blocks with heights and times, signed transactions
// with tracked nonces, events, and queries answered with state proofs that
// are verified and then recomputed over the proven values alone (as `dure
// query` does). It also exports every module's genesis and re-imports it
// on a fresh database to check the state root comes back.
//
//	h := moduletest.New(t, moduletest.Config{Modules: []chain.Module{m}, Keys: []*chain.StoreKey{key}})
//	res := h.Deliver(h.Key(0), msg)        // one tx in one block
//	h.Advance(24 * time.Hour)              // the next block is a day later
//	h.Block()                              // an empty block: EndBlock runs
//	v := h.Query("notes", "note", map[string]string{"id": "0"})
//
// Nothing here is used outside tests.
package moduletest
