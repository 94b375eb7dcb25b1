// Package execution applies blocks to the authenticated state: it checks
// each transaction (signature, chain id, nonce, minimum fee), charges its
// fee, routes its messages to modules, runs every module's EndBlock and
// stages the new state root with chain/state.
//
// Construction is explicit: New(Config) takes the codec, chain id, the
// ordered module list with each module's store key, the fee charger (the
// native-token module), the minimum fee, the gas bought per fee unit, and
// optionally a Verified callback naming transactions whose signature the
// mempool already checked.
//
// # Per transaction
//
//  1. Invalid (the block is rejected; PrepareBlock drops it instead, and
//     PrepareBlockUntil also stops taking candidates when the proposer's
//     stop function says so, e.g. at the node's build deadline): bad
//     signature, wrong chain id, nonce not equal to the sender's next nonce,
//     MaxFee below MinFee, or a fee the charger refuses.
//  2. The full MaxFee is charged and the nonce bumped; both stay whatever
//     the messages do. There is no refund of unused gas.
//  3. Messages run on a child branch with a gas limit of
//     MaxFee × GasPerFeeUnit, of which GasPerTx + GasPerTxByte × size is
//     taken up front. Module stores are prefixed ("<module>/") and metered
//     (chain.GasPer*). The first failing message reverts all of the tx's
//     message writes; its TxResult gets chain.ResultCode(err) and the error
//     text. A module panic is a failed message (CodeInternal).
//
// Then EndBlock runs for every module in configured order (unmetered),
// and the branch is staged. Outcome carries the state root, results and
// their RFC 6962 root, validator updates (from successful transactions,
// then EndBlock, in order) and the state.Pending the store commits.
//
// # Cost
//
// The per-transaction path allocates little: module stores are opened
// once per key per transaction (the first inside its opener), their
// prefixes are made at New, keys are built in a reused buffer, a block's
// branch is sized for its transactions (state.Branch.Reserve), and a
// transaction's events are not copied. What a block produces is unchanged
// byte for byte: node's TestExecutionGolden replays a fixed workload
// against roots and results recorded before this work.
//
// # State owned by the executor
//
// Nonces live in the reserved "auth/" store: "auth/n/" + 20-byte address →
// next nonce as 8 bytes big-endian, absent meaning 0. Nonce reads it from
// any state reader, for the mempool and the API.
//
// # Determinism
//
// Execution iterates no maps in an order that matters, reads no clock, does
// no I/O beyond the state branch, and starts goroutines only to verify
// signatures, whose only effect is a valid/invalid bit per transaction.
package execution
