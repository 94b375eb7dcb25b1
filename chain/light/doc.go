// Package light is dure's light client: it carries trust in a chain's
// validator set forward from one trusted point, so a header (and with it
// every state, tx and result root the header commits to) can be checked
// without trusting the node that served it.
//
// Trust starts once, from the genesis validator set (TrustGenesis) or from
// a checkpoint — a height and block ID obtained out of band (TrustCheckpoint).
// From there Client.Verify moves to a target height:
//
//   - sequentially: header h+1 must be signed by more than 2/3 of the set
//     that header h committed to as the next validators;
//   - skipping: a later header is accepted in one step if validators
//     holding at least TrustLevel (1/3 by default) of the trusted set's
//     power signed its commit, and more than 2/3 of its own set did — the
//     rule of CometBFT's light client: at least one honest trusted
//     validator vouches for the jump. When that overlap is missing the
//     client bisects, verifying a header halfway first.
//
// The trusted state expires after TrustingPeriod of block time (validators
// who have since unbonded can no longer be slashed for lying). After every
// verification the client asks its witnesses (other nodes) for the same
// height; a different header that also verifies is a fork, returned as
// ErrConflictingHeaders with both headers, and the trusted state is left
// as it was.
//
// Usage:
//
//	st := light.NewFileStore(filepath.Join(home, "light", chainID+".json"))
//	c, err := light.New(light.Config{ChainID: id, Codec: codec, Primary: node,
//		Witnesses: []light.Provider{other}, Store: st, Now: time.Now})
//	if err == light.ErrNoTrust { err = c.TrustGenesis(genesisValidators, genesisTime) }
//	lb, err := c.Verify(ctx, height) // lb.Header is now trusted
//
// VerifyStep and After are one step of that verification with no I/O and
// no clock (the caller passes "now"): a chain following another chain's
// headers in its own state (apps/subnet's top-down path) runs them with its
// block time, so its execution stays a function of the data.
//
// Providers serve LightBlocks: a header, the commit that finalised it and
// the validator set that signed it. The package imports only chain.
package light
