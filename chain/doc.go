// Package chain holds what every dure node agrees on byte for byte: the
// transaction, block, vote, commit and validator-set types; their canonical
// CBOR encoding and CIDv1 identifiers; RFC 6962 Merkle roots and proofs;
// ed25519 signatures under ZIP-215 rules (single and batch alike, with or
// without a KeyCache of expanded public keys, which changes only speed); and the
// Module interface that application modules implement.
//
// Subpackages hold the machinery built on these types: state (the
// authenticated sparse-Merkle state), store (the Badger block store),
// execution (the executor), blockexec (the block lifecycle around an
// immutable State), mempool, genesis, and moduletest (the app modules'
// test harness).
//
// Modules: Module is the required interface; BeginBlocker, EndBlocker,
// GenesisExporter, ModuleAccountHolder, ValidatorSetOwner, FeeCharger,
// AccountReporter and Describer are optional capabilities the executor and
// node find on the module value with a type assertion.
//
// Tx lists (DecodeTxList, AppendTxList) are the CBOR array of raw txs
// that p2p's gossip batches (strict rules) and the API's CBOR batch bodies
// (lenient rules) both are; the decoder copies each tx out of its input.
//
// chain imports no other package of the project. Codecs are values
// (NewCodec) passed in explicitly; there are no package-level registries.
//
// Encoding rules: every hashed or signed structure is a CBOR array
// (toarray) in core deterministic encoding. Decoders reject non-canonical
// bytes (UnmarshalCanonical), so a transaction or block has exactly one
// encoding and one ID. DecodeTx does UnmarshalCanonical's check with a
// hand-written encoder of the tx envelope (appendTx) instead of the
// reflective one; FuzzTxCanonical holds it to the codec byte for byte. IDs parse only from their canonical text
// (ParseID). Block time is Time (Unix nanoseconds; an integer in CBOR, RFC
// 3339 in JSON); anything in seconds converts explicitly (Unix,
// UnixSeconds).
//
// Two encoders on the execution path are written out by hand, each
// checked byte for byte against the library it replaces (randomized and
// fuzz tests): Address.String (bech32, the address text in events) and
// the results-root leaves (ResultsRoot, the codec's encoding of TxResult).
package chain
