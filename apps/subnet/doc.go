// Package subnet anchors neighbourhood chains ("subnets") to the chain it
// runs on (the parent), and moves value between them. The same module runs
// on both sides: on the parent it is the registry; on a subnet its outbox
// records withdrawals owed on the parent, and its light client of the
// parent mints the parent's deposits.
//
// # Registry (parent)
//
// register locks each initial validator's collateral (the sender's native
// token, through the Bank the node passes: apps/currency) and records the
// subnet: id, genesis hash, checkpoint period K, private flag, the number
// of parent blocks without a checkpoint after which it may be declared
// halted, and the set that must sign the first checkpoint. join locks a
// new validator's collateral; it signs once a checkpoint's NextValidators
// includes it with power collateral/power_reduction. leave marks a
// validator leaving; its collateral is released unbonding_blocks after a
// checkpoint drops it from the set (at once if it was not in it).
//
// # Checkpoints (parent)
//
// Every K subnet blocks the subnet's validators sign a Checkpoint (subnet,
// height, block ID, state root, validator-set hash, next validator set,
// outbox root and count, deposits applied) under SignDomain and the
// subnet's genesis hash. Anyone may submit it. The parent accepts it when
//
//   - its height is a multiple of K above the last accepted one (one at or
//     below is a no-op that succeeds before any signature is checked);
//   - ValidatorsHash is the registered set (the previous checkpoint's
//     NextValidators): set changes chain, so a fast-forward may skip
//     checkpoints only while the set stays the same;
//   - signatures of distinct members of that set, slashed ones not counted,
//     carry more than 2/3 of its power (one batch verification, gas
//     GasPerSignature each);
//   - every next validator is a member with that key and power whose
//     collateral is locked; the outbox count and deposits applied do not go
//     back.
//
// The outbox root covers every withdrawal the subnet ever made (an RFC 6962
// append-only log, kept on the subnet as its frontier), so a withdrawal in
// a skipped checkpoint is proven against any later one: a behind submitter
// sends only the latest checkpoint. equivocate takes two checkpoints of one
// height signed by one member and burns slash_bp of its collateral; it is
// tombstoned.
//
// # Collecting signatures (subnet)
//
// A subnet's own genesis sets params.checkpoint_period (K). At every
// height that is a multiple of K, EndBlock snapshots the outbox (count and
// root). Each validator then sends endorse: the checkpoint it signed, the
// genesis hash it signed under, its key and signature; the module checks
// the height is committed, the outbox is this chain's snapshot at that
// height and the signature is the sender's own, and stores it. Any node
// reads them with proofs (query "endorsements") and submits the
// checkpoint: `dure subnet sign` and `dure subnet relay` do exactly this.
// Whether a signer belongs to the registered set is the parent's to check.
//
// # Value across
//
// deposit locks native tokens in Escrow() for an account on the subnet and
// records the deposit by nonce, with Acc: a hash chain (ChainDeposit)
// through every deposit to that subnet so far, so the record of deposit n
// proven against one parent state root proves deposits 0..n. release pays
// a withdrawal proven (chain.MerkleProof) in the outbox of an accepted
// checkpoint, once. When a subnet has not checkpointed for its
// escape_after parent blocks, escape pays a holder its native balance on
// the subnet, proven (chain/state proof, key from the BalanceLayout)
// against the last checkpointed state root, once per holder, to the
// holder's own address (anyone may send it and pay its fee); refund
// returns deposits the last checkpoint had not applied. The first escape
// or refund halts the subnet for good. Every payout is bounded by the
// subnet's locked value.
//
// # Top-down: minting deposits (subnet)
//
// A subnet whose genesis section has "topdown" (`dure subnet follow`
// prints it) keeps a light client of its parent in its own state
// (TopDownState): the trusted parent height, block ID, time, state root
// and the set signing the next height, from the parent's genesis or a
// trusted header. Anyone (the validators' `dure start --subnet` loop does)
// sends topdown: parent light blocks, each verified from the one before
// by chain/light's VerifyStep (commit of more than 2/3 of its own set;
// sequential, or skipping when at least 1/3 of the trusted power signed),
// with the subnet's block time as the only clock; then the parent's
// deposit records from the next unapplied nonce, whose hash chain from
// the subnet's stored Acc must reach the last record, proven by a state
// proof against the last verified header's state root. Each deposit is
// then minted (Bank.Mint) exactly once, in nonce order, or, when it cannot
// be (zero address, a module account, the bank refuses it: a holding cap),
// parked in the inbox with the reason. Its sender retries it (retry, to a
// new recipient or the same) or takes it back on the parent (return: a
// withdrawal in the outbox). A topdown with nothing new succeeds as a
// no-op before any signature is checked; blocks at or below the trusted
// height are skipped. EndBlock's checkpoint snapshot records the deposits
// applied, which the checkpoint must name, so the parent's refund after a
// halt pays only deposits the subnet had not applied.
//
// # Relaying (any subnet node)
//
// PlanTopDown is what a relayer sends, a function of a ParentSource (the
// parent's light blocks and its deposit records with proofs; node/cli
// serves it from the parent's API, tests from a real signed chain) and
// the subnet's TopDownState: ParentPath from the trusted header to the
// parent's head (the head itself when ≥ 1/3 of the trusted power signed
// it, else bisecting down to the headers where the parent's set changed,
// as chain/light does), then up to RelayMaxDeposits deposits proven at the
// head. A path over MaxTopDownBlocks headers or RelayMaxBytes is sent as
// its verified prefix without deposits; the next plan, once that is
// applied, goes on from its end, so a far-behind relayer catches up over
// several transactions that each verify alone. With nothing to mint it
// still refreshes the trust every RelayRefresh parent blocks or a quarter
// of the trusting period, whichever comes first; TopDownGas estimates the
// gas for its fee.
//
// # Re-trust (subnet)
//
// Once the trusted header is older than the trusting period no parent
// header can be verified from it. The subnet's own validators (Validators,
// apps/staking's active set, given by WithValidators) each send retrust:
// a parent header they checked out of band (`dure subnet retrust --trust
// height:block_id`). When validators holding more than 2/3 of the active
// power voted for the same header, counted at the latest vote, it becomes
// the trusted header (deposits applied, Acc and totals kept) and relaying
// goes on from it. Votes are refused while the trust has not expired, from
// non-validators, at or below the trusted height, or for a header not
// within the trusting period before the block; a proposal is named within
// the expired trust it replaces, so old votes never count again.
//
// # State
//
// Under the module prefix "subnet/":
//
//	"p"                         Params
//	"o"                         Frontier (subnet side: outbox)
//	"x/" nonce                  CrossMsg leaf (subnet side)
//	"n/" height                 OutboxAt snapshot with deposits applied (subnet side)
//	"K/" height hash            endorsed Checkpoint (subnet side)
//	"k/" height hash addr       Endorsement (subnet side)
//	"s/" id                     Subnet
//	"m/" id 0 addr              Member
//	"c/" id 0 height            Accepted checkpoint
//	"d/" id 0 nonce             Deposit
//	"r/" id 0 nonce             released withdrawal marker
//	"e/" id 0 addr              escaped holder marker
//	"u/" height id 0 addr       unbonding release queue
//	"t"                         TopDownState (subnet side)
//	"i/" nonce                  Parked deposit (subnet side: the inbox)
//	"v/" proposal addr          re-trust vote marker (subnet side)
//
// Integers are 8 bytes big-endian; values canonical CBOR.
package subnet
