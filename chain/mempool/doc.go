// Package mempool holds signed transactions that are valid against
// committed state but not yet in a block, ready for the proposer.
//
// # Use
//
//	mp := mempool.New(mempool.Config{Codec: c, ChainID: id, MinFee: 1}, accounts)
//	id, err := mp.Add(raw)               // API submit
//	ids, errs := mp.AddBatch(gossiped)   // p2p tx batch, or POST /v1/txs/batch
//	txs := mp.Reap(maxTxs, maxBytes)     // proposer
//	mp.Verified(txID)                    // executor: skip re-verifying
//	mp.Update(height, committedIDs)      // after every commit
//
// AccountState (NextNonce) is declared here and implemented by the node
// over committed state; it must be safe for concurrent use.
//
// # Admission
//
// In order of cost: size (chain.ErrTxTooLarge), duplicate or recently seen
// (ErrDuplicate; a hash and a map lookup, before any decoding), decode
// (chain.ErrTxMalformed), chain ID (chain.ErrWrongChain), fee below MinFee
// (ErrFeeTooLow), nonce below the account's next nonce (ErrNonceTooLow) or
// more than MaxPerSender ahead of it (ErrNonceTooHigh), capacity (ErrFull
// by count or bytes, ErrSenderFull past MaxPerSender pending, ErrDuplicate
// for a second tx with a pending nonce — replacement is not supported),
// and last, the signature (chain.ErrBadSignature), then, with FeeFunds,
// whether the sender's balance covers MaxFee (ErrFeeUnpayable; AddBatch
// reads each sender's balance once per batch, as it reads its nonce).
// The sign bytes are cut from the canonical raw tx (chain.SignBytesOf),
// not encoded again. Every rejection wraps
// its sentinel with the numbers that caused it. Nothing is evicted to make
// room: a full pool refuses until blocks drain it.
//
// # Signatures
//
// Signatures are checked outside the lock. AddBatch runs the cheap checks
// first, then splits the survivors into chunks verified in parallel
// (GOMAXPROCS workers, chain.VerifyBatchCached per chunk, which falls back
// to per-item answers when a chunk holds a bad signature). Senders' public
// keys are kept expanded in Config.KeyCache (a bounded chain.KeyCache the
// mempool makes when none is given), so a key is decompressed once, not
// for each of its txs; the decisions are those of chain.VerifyBatch. A bounded FIFO
// seen-cache (SeenCacheSize IDs) remembers what was verified, what had a
// bad signature and what was committed, so a tx echoed by many peers is
// hashed, not decoded or verified, again. Verified(id) is true only for
// IDs whose signature this mempool checked; an ID is the CID of the exact
// bytes, signature included.
//
// # Ordering
//
// Per sender, txs are kept by nonce. Reap takes, for each sender, the
// contiguous run starting at the account's next nonce (a gap stops the
// run; the txs after it wait) and merges the runs with a heap keyed by each
// run's next tx's arrival number. The result depends only on the pool's
// contents and arrival order. Update removes committed txs, re-reads every
// pending sender's next nonce (outside the lock) and drops txs below it —
// including ones made stale by txs that reached a block through another
// node.
package mempool
