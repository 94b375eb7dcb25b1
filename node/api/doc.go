// Package api is the node's HTTP JSON API: status, transaction submission
// (optionally waiting for commit; or many txs in one POST /v1/txs/batch,
// a JSON list or a CBOR array read by chain.DecodeTxList, answered per tx
// in order, see batch.go),
// transactions with Merkle inclusion
// proofs, blocks, accounts and module queries with state proofs (lists
// proven complete by next-key records, see KeyProof), the
// registered modules with their messages and queries, peers, validators,
// and an event stream (Server-Sent Events) that resumes from a
// height so a subscriber never silently loses events.
//
// The server is constructed with a Backend, a small interface the node
// implements (GET /v1/modules needs the optional ModuleLister too); the API
// holds no chain logic of its own. It binds to
// 127.0.0.1 by default (see the node config).
//
// Errors are JSON objects {"error":{"code":"nonce_too_low","message":"…"}}
// with a stable machine-readable code and an HTTP status that means
// something: 400 malformed input, 404 not found, 409 conflicts with state
// (nonce, duplicate), 413 too large, 422 refused by the chain's rules,
// 503 mempool full or node not ready, 504 waited too long for commit.
package api
