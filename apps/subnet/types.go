package subnet

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/state"
)

// ModuleName routes messages to subnet and prefixes its state.
const ModuleName = "subnet"

// Message types.
const (
	TypeRegister    = "register"   // parent: a new subnet and its initial validators
	TypeJoin        = "join"       // parent: lock collateral to validate a subnet
	TypeLeave       = "leave"      // parent: ask for collateral back
	TypeCheckpoint  = "checkpoint" // parent: a signed checkpoint, from anyone
	TypeEquivocate  = "equivocate" // parent: two checkpoints one validator signed for one height
	TypeDeposit     = "deposit"    // parent: lock value for an account on the subnet (top-down)
	TypeRelease     = "release"    // parent: release a subnet withdrawal by its proof (bottom-up)
	TypeEscape      = "escape"     // parent: withdraw a halted subnet's balance by a state proof
	TypeRefund      = "refund"     // parent: a halted subnet's deposit it never applied, back to its sender
	TypeWithdraw    = "withdraw"   // subnet: burn value here, owed on the parent after a checkpoint
	TypeEndorse     = "endorse"    // subnet: a validator's signature of a checkpoint, collected on chain
	SignDomain      = "dure/subnet/checkpoint/v1"
	MaxIDLen        = 32
	MaxSubnetVals   = 128 // validators in one subnet's set
	GasPerSignature = 2000
	// MaxProofLeaves bounds the outbox the outbox-proof query builds a
	// proof over (it reads every leaf), so it stays cheap to re-run over
	// proven state. Releases themselves take proofs of any outbox size.
	MaxProofLeaves = 1 << 16
)

// Sentinel errors, each wrapped with the chain error class that sets the
// tx result code.
var (
	ErrBadID          = errors.New("subnet: bad subnet id")
	ErrExists         = errors.New("subnet: subnet already registered")
	ErrNoSubnet       = errors.New("subnet: no such subnet")
	ErrBadValidators  = errors.New("subnet: bad validator set")
	ErrCollateral     = errors.New("subnet: collateral below the minimum")
	ErrNoMember       = errors.New("subnet: not a registered validator of the subnet")
	ErrMember         = errors.New("subnet: already a registered validator of the subnet")
	ErrTombstoned     = errors.New("subnet: validator was slashed for equivocation")
	ErrBadHeight      = errors.New("subnet: checkpoint height is not a multiple of the period")
	ErrSetMismatch    = errors.New("subnet: checkpoint not signed by the set of the previous checkpoint")
	ErrNoQuorum       = errors.New("subnet: signatures short of more than 2/3 of the registered power")
	ErrBadSignature   = errors.New("subnet: bad checkpoint signature")
	ErrNextSet        = errors.New("subnet: next validator set not backed by collateral on the parent")
	ErrRegress        = errors.New("subnet: checkpoint goes back on an earlier one")
	ErrNotEquivocal   = errors.New("subnet: not an equivocation")
	ErrHalted         = errors.New("subnet: subnet is halted; only escape withdrawals and refunds")
	ErrNotHalted      = errors.New("subnet: subnet is not halted")
	ErrNoCheckpoint   = errors.New("subnet: no such checkpoint")
	ErrReleased       = errors.New("subnet: already released")
	ErrLocked         = errors.New("subnet: more than the subnet has locked on the parent")
	ErrNoDeposit      = errors.New("subnet: no such deposit")
	ErrBadAmount      = errors.New("subnet: amount must be positive")
	ErrNoBankLayout   = errors.New("subnet: the node gave no balance layout for escape proofs")
	ErrCorrupt        = errors.New("subnet: corrupt state")
	ErrNotSubnet      = errors.New("subnet: this chain has no checkpoint_period: it is no subnet")
	ErrOutbox         = errors.New("subnet: checkpoint outbox or deposits applied differ from this chain's at that height")
	ErrUnknownSubnet  = fmt.Errorf("%w: %w", chain.ErrInvalidMsg, ErrNoSubnet)
	errOverflowAmount = errors.New("subnet: amount overflows")
)

// Bank is what subnet needs from the module holding the parent's native
// token (apps/currency satisfies it). Transfer moves funds between any two
// accounts: subnet calls it only for the tx sender's own funds or from its
// module accounts.
type Bank interface {
	NativeDenom(ctx *chain.Context) (string, error)
	Transfer(ctx *chain.Context, from, to chain.Address, denom string, amount uint64) error
	Burn(ctx *chain.Context, from chain.Address, denom string, amount uint64) error
	// Mint creates amount at to (on a subnet, a parent deposit). It must
	// refuse (holding cap, overflow) before it writes anything.
	Mint(ctx *chain.Context, to chain.Address, denom string, amount uint64) error
}

// BalanceLayout says where the bank keeps a balance in state and how to
// read its value, so an escape withdrawal can check a state proof against
// a subnet's checkpointed state root (the subnet runs the same bank).
// apps/currency satisfies it; nil disables escape withdrawals.
type BalanceLayout interface {
	// BalanceKey is the full state key (module prefix included).
	BalanceKey(addr chain.Address, denom string) []byte
	// DecodeBalance reads the amount from the stored value.
	DecodeBalance(value []byte) (uint64, error)
}

// ModuleAddress is the account of a subnet pool: no key hashes to it.
func ModuleAddress(name string) chain.Address {
	sum := sha256.Sum256([]byte("dure/module/" + name))
	var a chain.Address
	copy(a[:], sum[:chain.AddressLen])
	return a
}

// Escrow holds every subnet's deposits; Collateral every validator's
// collateral. Each subnet's share is accounted in subnet's own state.
func Escrow() chain.Address     { return ModuleAddress("subnet/escrow") }
func Collateral() chain.Address { return ModuleAddress("subnet/collateral") }

// Params are the module's chain-wide settings (genesis).
type Params struct {
	MinCollateral  uint64 `json:"min_collateral"`  // per validator, parent native units
	PowerReduction uint64 `json:"power_reduction"` // collateral per unit of checkpoint power
	// EscapeAfter is the fewest parent blocks without a checkpoint after
	// which a subnet may be declared halted; a subnet may ask for more.
	EscapeAfter uint64 `json:"escape_after"`
	// UnbondingBlocks is how long (parent blocks) collateral stays
	// slashable after its validator left the set.
	UnbondingBlocks uint64 `json:"unbonding_blocks"`
	// SlashBP is the share of collateral burnt on equivocation, in basis
	// points (10000: all).
	SlashBP uint64 `json:"slash_bp"`
	// CheckpointPeriod is set on a subnet's own chain: every this many
	// blocks EndBlock snapshots the outbox for the checkpoint of that
	// height, and validators endorse it (0: this chain is no subnet).
	CheckpointPeriod uint64 `json:"checkpoint_period,omitempty"`
}

// DefaultParams are the parameters of a chain whose genesis names none.
func DefaultParams() Params {
	return Params{MinCollateral: 1_000_000, PowerReduction: 1_000_000, EscapeAfter: 1000, UnbondingBlocks: 1000, SlashBP: 10000}
}

func (p Params) validate() error {
	switch {
	case p.PowerReduction == 0:
		return errors.New("power_reduction must be positive")
	case p.MinCollateral < p.PowerReduction:
		return errors.New("min_collateral must be at least power_reduction (one unit of power)")
	case p.EscapeAfter == 0:
		return errors.New("escape_after must be positive")
	case p.SlashBP > 10000:
		return errors.New("slash_bp must be at most 10000")
	}
	return nil
}

// Member statuses.
const (
	StatusActive     = "active"     // collateral locked; may be in the checkpoint set
	StatusLeaving    = "leaving"    // asked to leave; released once a checkpoint drops it
	StatusUnbonding  = "unbonding"  // out of the set; released at ReleaseAt
	StatusTombstoned = "tombstoned" // slashed for equivocation; never again
)

// Member is a validator registered for a subnet on the parent.
type Member struct {
	_          struct{}      `cbor:",toarray"`
	Address    chain.Address `json:"address"`
	PubKey     chain.PubKey  `json:"pub_key"`
	Owner      chain.Address `json:"owner"` // gets the collateral back
	Collateral uint64        `json:"collateral"`
	Power      uint64        `json:"power"`
	Status     string        `json:"status"`
	ReleaseAt  uint64        `json:"release_at,omitempty"` // parent height, while unbonding
}

// Subnet is a registered subnet.
type Subnet struct {
	_           struct{}      `cbor:",toarray"`
	ID          string        `json:"id"`
	Creator     chain.Address `json:"creator"`
	GenesisHash chain.Hash    `json:"genesis_hash"`
	Period      uint64        `json:"period"` // K: subnet blocks between checkpoints
	Private     bool          `json:"private"`
	EscapeAfter uint64        `json:"escape_after"` // parent blocks without a checkpoint
	Registered  uint64        `json:"registered"`   // parent height
	// Validators is the set that must sign the next checkpoint: the
	// initial set, then each accepted checkpoint's NextValidators.
	Validators []chain.Validator `json:"validators"`
	// Last is the latest accepted checkpoint (zero height: none yet).
	Last       CheckpointRecord `json:"last"`
	Locked     uint64           `json:"locked"`   // deposits held in escrow for the subnet
	Deposits   uint64           `json:"deposits"` // deposits made so far (next deposit nonce)
	Halted     bool             `json:"halted"`
	HaltedAt   uint64           `json:"halted_at,omitempty"`
	Checkpoint uint64           `json:"checkpoints"` // accepted so far
	// DepositAcc is the hash chain through every deposit so far
	// (ChainDeposit): one proven record proves all before it.
	DepositAcc chain.Hash `json:"deposit_acc"`
}

// CheckpointRecord is what the parent keeps of an accepted checkpoint.
type CheckpointRecord struct {
	_            struct{}   `cbor:",toarray"`
	Height       uint64     `json:"height"`
	Hash         chain.Hash `json:"hash"`
	StateRoot    chain.Hash `json:"state_root"`
	MsgRoot      chain.Hash `json:"msg_root"`
	MsgCount     uint64     `json:"msg_count"`
	Applied      uint64     `json:"deposits_applied"`
	ParentHeight uint64     `json:"parent_height"` // 0 with no checkpoint: then Registered counts
}

// Checkpoint is what a subnet's validators sign every Period blocks.
type Checkpoint struct {
	_      struct{} `cbor:",toarray"`
	Subnet string   `json:"subnet"`
	Height uint64   `json:"height"`
	// BlockID and StateRoot are the subnet block at Height and the state
	// root its header commits to (the state after the block).
	BlockID   chain.ID   `json:"block_id"`
	StateRoot chain.Hash `json:"state_root"`
	// ValidatorsHash is the hash (chain.ValidatorSet.Hash) of the set
	// signing this checkpoint, which must be the parent's registered set.
	ValidatorsHash chain.Hash `json:"validators_hash"`
	// NextValidators sign the next checkpoint.
	NextValidators []chain.Validator `json:"next_validators"`
	// MsgRoot is the RFC 6962 root of every outgoing message the subnet
	// ever sent (its outbox, an append-only log of MsgCount leaves): a
	// later checkpoint proves the messages of every earlier one, so
	// skipped checkpoints are never needed for their messages.
	MsgRoot  chain.Hash `json:"msg_root"`
	MsgCount uint64     `json:"msg_count"`
	// DepositsApplied is how many of the parent's deposits to the subnet
	// it has minted: a halted subnet's later deposits are refunded.
	DepositsApplied uint64 `json:"deposits_applied"`
}

// Sig is one validator's signature of a checkpoint.
type Sig struct {
	_         struct{}      `cbor:",toarray"`
	Validator chain.Address `json:"validator"`
	Sig       []byte        `json:"sig"`
}

// SignedCheckpoint is a checkpoint with the signatures collected for it:
// the body of a checkpoint message.
type SignedCheckpoint struct {
	_          struct{}   `cbor:",toarray"`
	Checkpoint Checkpoint `json:"checkpoint"`
	Sigs       []Sig      `json:"sigs"`
}

// Accepted is an accepted checkpoint as the parent stores it: with the
// set that signed it, so a client can re-verify the signatures from this
// one proven value.
type Accepted struct {
	_            struct{}          `cbor:",toarray"`
	Signed       SignedCheckpoint  `json:"signed"`
	Signers      []chain.Validator `json:"signers"`
	ParentHeight uint64            `json:"parent_height"`
}

// Verify re-checks the signatures of a stored checkpoint against the set
// stored with it (for clients; the parent checked them on acceptance).
func (a *Accepted) Verify(c *chain.Codec, genesisHash chain.Hash) error {
	vs, err := chain.NewValidatorSet(a.Signers)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadValidators, err)
	}
	_, err = VerifySigned(c, genesisHash, vs, &a.Signed, nil)
	return err
}

// CrossMsg is one outgoing subnet→parent message: value burnt on the
// subnet by From, owed to To on the parent. It is a leaf of the outbox.
type CrossMsg struct {
	_      struct{}      `cbor:",toarray"`
	Nonce  uint64        `json:"nonce"`
	From   chain.Address `json:"from"`
	To     chain.Address `json:"to"`
	Amount uint64        `json:"amount"`
	Height uint64        `json:"height"` // subnet height it was sent at
}

// Deposit is one parent→subnet transfer: locked on the parent, to be
// minted to To on the subnet.
type Deposit struct {
	_            struct{}      `cbor:",toarray"`
	Nonce        uint64        `json:"nonce"`
	From         chain.Address `json:"from"`
	To           chain.Address `json:"to"`
	Amount       uint64        `json:"amount"`
	ParentHeight uint64        `json:"parent_height"`
	Refunded     bool          `json:"refunded,omitempty"`
	// Acc is the subnet's deposit hash chain through this deposit.
	Acc chain.Hash `json:"acc"`
}

// NewValidator is one initial validator in a register message, or the
// validator of a join: its subnet key and the collateral locked for it.
type NewValidator struct {
	_          struct{}     `cbor:",toarray"`
	PubKey     chain.PubKey `json:"pub_key"`
	Collateral uint64       `json:"collateral"`
}

// Register is a new subnet. The sender locks every initial validator's
// collateral and owns it.
type Register struct {
	_           struct{}       `cbor:",toarray"`
	ID          string         `json:"id"`
	GenesisHash chain.Hash     `json:"genesis_hash"`
	Period      uint64         `json:"period"`
	Private     bool           `json:"private"`
	EscapeAfter uint64         `json:"escape_after"` // 0: the chain's minimum
	Validators  []NewValidator `json:"validators"`
}

// Join registers PubKey as a validator of Subnet with the sender's
// collateral; it signs once a checkpoint's NextValidators includes it.
type Join struct {
	_         struct{}     `cbor:",toarray"`
	Subnet    string       `json:"subnet"`
	Validator NewValidator `json:"validator"`
}

// Leave asks for a validator's collateral back (its owner only).
type Leave struct {
	_         struct{}      `cbor:",toarray"`
	Subnet    string        `json:"subnet"`
	Validator chain.Address `json:"validator"`
}

// Equivocate proves that Validator signed two different checkpoints of one
// subnet for one height.
type Equivocate struct {
	_         struct{}      `cbor:",toarray"`
	Validator chain.Address `json:"validator"`
	A         Checkpoint    `json:"a"`
	SigA      []byte        `json:"sig_a"`
	B         Checkpoint    `json:"b"`
	SigB      []byte        `json:"sig_b"`
}

// DepositMsg locks Amount of the sender's native token for To on Subnet.
type DepositMsg struct {
	_      struct{}      `cbor:",toarray"`
	Subnet string        `json:"subnet"`
	To     chain.Address `json:"to"`
	Amount uint64        `json:"amount"`
}

// Release pays out a subnet withdrawal: Msg proven in the outbox of the
// accepted checkpoint at CheckpointHeight. Anyone may send it; the value
// goes to Msg.To.
type Release struct {
	_                struct{}          `cbor:",toarray"`
	Subnet           string            `json:"subnet"`
	CheckpointHeight uint64            `json:"checkpoint_height"`
	Msg              CrossMsg          `json:"msg"`
	Proof            chain.MerkleProof `json:"proof"`
}

// Escape withdraws Holder's balance on a halted subnet to Holder's
// account on the parent: Value is the bank's stored balance under the last
// checkpointed state root, Proof its state proof. Anyone may send it (and
// pay its fee): the value goes only to Holder.
type Escape struct {
	_      struct{}      `cbor:",toarray"`
	Subnet string        `json:"subnet"`
	Holder chain.Address `json:"holder"`
	Value  []byte        `json:"value"`
	Proof  state.Proof   `json:"proof"`
}

// Refund returns a deposit a halted subnet never applied to its sender.
type Refund struct {
	_      struct{} `cbor:",toarray"`
	Subnet string   `json:"subnet"`
	Nonce  uint64   `json:"nonce"`
}

// Withdraw (on the subnet) burns Amount of the sender's native token and
// puts a CrossMsg for To in the outbox.
type Withdraw struct {
	_      struct{}      `cbor:",toarray"`
	To     chain.Address `json:"to"`
	Amount uint64        `json:"amount"`
}

// Endorse (on the subnet) records the sender's signature of a checkpoint
// of this chain for the subnet registered with GenesisHash: the
// signatures are collected on the subnet chain itself, where any node can
// read them (query "endorsements") and submit the checkpoint.
type Endorse struct {
	_           struct{}     `cbor:",toarray"`
	Checkpoint  Checkpoint   `json:"checkpoint"`
	GenesisHash chain.Hash   `json:"genesis_hash"`
	PubKey      chain.PubKey `json:"pub_key"`
	Sig         []byte       `json:"sig"`
}

// Endorsement is one stored signature.
type Endorsement struct {
	_           struct{}     `cbor:",toarray"`
	GenesisHash chain.Hash   `json:"genesis_hash"`
	PubKey      chain.PubKey `json:"pub_key"`
	Sig         []byte       `json:"sig"`
}

// OutboxAt is the outbox as of a checkpoint height (subnet side).
type OutboxAt struct {
	_     struct{}   `cbor:",toarray"`
	Count uint64     `json:"count"`
	Root  chain.Hash `json:"root"`
	// Applied is how many parent deposits the subnet had applied: the
	// checkpoint's DepositsApplied.
	Applied uint64 `json:"deposits_applied"`
}

// Endorsed is one checkpoint of a height and the signatures collected
// for it: the "endorsements" query's answer, one per distinct checkpoint.
type Endorsed struct {
	Hash         chain.Hash    `json:"hash"`
	Checkpoint   Checkpoint    `json:"checkpoint"`
	Endorsements []Endorsement `json:"endorsements"`
}

// Message constructors.

func MsgRegister(c *chain.Codec, r Register) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeRegister, r)
}
func MsgJoin(c *chain.Codec, subnet string, pub chain.PubKey, collateral uint64) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeJoin, Join{Subnet: subnet, Validator: NewValidator{PubKey: pub, Collateral: collateral}})
}
func MsgLeave(c *chain.Codec, subnet string, val chain.Address) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeLeave, Leave{Subnet: subnet, Validator: val})
}
func MsgCheckpoint(c *chain.Codec, sc SignedCheckpoint) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeCheckpoint, sc)
}
func MsgEquivocate(c *chain.Codec, e Equivocate) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeEquivocate, e)
}
func MsgDeposit(c *chain.Codec, subnet string, to chain.Address, amount uint64) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeDeposit, DepositMsg{Subnet: subnet, To: to, Amount: amount})
}
func MsgRelease(c *chain.Codec, r Release) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeRelease, r)
}
func MsgEscape(c *chain.Codec, subnet string, holder chain.Address, value []byte, p state.Proof) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeEscape, Escape{Subnet: subnet, Holder: holder, Value: value, Proof: p})
}
func MsgRefund(c *chain.Codec, subnet string, nonce uint64) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeRefund, Refund{Subnet: subnet, Nonce: nonce})
}
func MsgEndorse(c *chain.Codec, e Endorse) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeEndorse, e)
}
func MsgWithdraw(c *chain.Codec, to chain.Address, amount uint64) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, TypeWithdraw, Withdraw{To: to, Amount: amount})
}
