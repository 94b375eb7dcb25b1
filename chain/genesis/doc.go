// Package genesis reads, validates and hashes genesis.json: the chain ID,
// the initial block time, the initial validators, chain parameters and each
// module's initial state. Every node of a chain must start from a file with
// the same hash; the store refuses a data directory made from another.
//
// The hash is sha2-256 of the file's canonical form: the document is
// decoded strictly (unknown fields rejected) and re-encoded with sorted
// keys, so whitespace and key order do not change it.
package genesis
