// Package moduletest is the shared test harness for app modules: a real
// executor over real sparse-Merkle state in a Badger database in a
// temporary directory, blocks with heights, times and BeginBlock inputs,
// the consensus validator set rotated as chain/blockexec does, signed
// transactions with tracked nonces, events, and queries answered with
// state proofs that are verified and then recomputed over the proven
// values alone (as `dure query` does). It also exports every module's
// genesis and re-imports it on a fresh database to check the state root
// comes back.
//
// Block mode runs whole blocks through execution.Executor (fees, gas,
// signatures, per-tx revert):
//
//	h := moduletest.New(t, moduletest.Config{Modules: []chain.Module{m}, Keys: []*chain.StoreKey{key}})
//	res := h.Deliver(h.Key(0), msg)        // one tx in one block
//	h.Advance(24 * time.Hour)              // the next block is a day later
//	h.Block()                              // an empty block: BeginBlock and EndBlock run
//	v := h.Query("notes", "note", map[string]string{"id": "0"})
//
// Direct mode drives modules below the transaction layer with the
// executor's own contexts, one block at a time:
//
//	h.BeginBlock(moduletest.Inputs{Absent: []chain.Address{lazy}, Evidence: evs})
//	h.MustDeliverAs(sender, msg)           // any sender, no keys or fees; metered (GasUsed)
//	evs, updates := h.EndBlock(time.Second)
//	h.Validators(h.Height() + 2)           // the set the updates make, two heights on
//
// A block's last-commit signers are the set that signed the previous
// height minus Inputs.Absent; evidence is verified against the set of its
// height; the chain.ValidatorSetOwner's genesis validators sign heights 1
// and 2 and its updates decided at H sign from H+2. Inputs no node would
// give a block fail the test.
//
// Nothing here is used outside tests.
package moduletest
