package currency

import (
	"github.com/dure-network/dure/chain"
)

// ModuleName routes messages to this module and prefixes its state.
const ModuleName = "currency"

// Message types (chain.Msg.Type).
const (
	TypeSend             = "send"
	TypeCreate           = "create"
	TypeMint             = "mint"
	TypeBurn             = "burn"
	TypeGrant            = "grant"
	TypeRevoke           = "revoke"
	TypeRegisterMerchant = "register-merchant"
	TypeSuspendMerchant  = "suspend-merchant"
	TypePay              = "pay"
	TypeRedeem           = "redeem"
	TypeConfirmHours     = "confirm-hours"
)

// Send moves Amount of Denom from the sender to To, subject to the
// currency's transfer policy.
type Send struct {
	_      struct{} `cbor:",toarray"`
	To     chain.Address
	Denom  string
	Amount uint64
}

// Create makes a new currency with the sender as issuer.
type Create struct {
	_        struct{} `cbor:",toarray"`
	Denom    string
	Decimals uint8
	Rules    Rules
}

// Mint creates Amount of Denom at To (minter role).
type Mint struct {
	_      struct{} `cbor:",toarray"`
	Denom  string
	To     chain.Address
	Amount uint64
}

// Burn destroys Amount of the sender's own Denom.
type Burn struct {
	_      struct{} `cbor:",toarray"`
	Denom  string
	Amount uint64
}

// RoleChange is the body of grant and revoke (issuer only). Role is
// "minter", "approver" or "coordinator".
type RoleChange struct {
	_       struct{} `cbor:",toarray"`
	Denom   string
	Role    string
	Account chain.Address
}

// RegisterMerchant approves (or updates and reinstates) a merchant with its
// categories (approver role).
type RegisterMerchant struct {
	_          struct{} `cbor:",toarray"`
	Denom      string
	Merchant   chain.Address
	Categories []string
}

// SuspendMerchant stops a merchant from receiving payments (approver role).
// It may still redeem what it holds.
type SuspendMerchant struct {
	_        struct{} `cbor:",toarray"`
	Denom    string
	Merchant chain.Address
}

// Pay pays an approved merchant. Category, when set, must be one of the
// merchant's categories and allowed by the currency (required for vouchers
// with categories only in the sense that some category must match).
type Pay struct {
	_        struct{} `cbor:",toarray"`
	Merchant chain.Address
	Denom    string
	Amount   uint64
	Category string
}

// Redeem burns a merchant's Amount and records a settlement with
// Reference (an invoice or bank transfer id) for off-ledger payout.
type Redeem struct {
	_         struct{} `cbor:",toarray"`
	Denom     string
	Amount    uint64
	Reference string
}

// ConfirmHours credits a volunteer for hours worked (coordinator role):
// Hours*HourlyRate + Minutes*HourlyRate/60, or minutes in a time bank.
type ConfirmHours struct {
	_         struct{} `cbor:",toarray"`
	Denom     string
	Volunteer chain.Address
	Hours     uint32
	Minutes   uint32
}

func encode(c *chain.Codec, typ string, body any) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, typ, body)
}

// MsgSend builds a send message.
func MsgSend(c *chain.Codec, to chain.Address, denom string, amount uint64) (chain.Msg, error) {
	return encode(c, TypeSend, Send{To: to, Denom: denom, Amount: amount})
}

// MsgCreate builds a create message.
func MsgCreate(c *chain.Codec, denom string, decimals uint8, rules Rules) (chain.Msg, error) {
	return encode(c, TypeCreate, Create{Denom: denom, Decimals: decimals, Rules: rules})
}

// MsgMint builds a mint message.
func MsgMint(c *chain.Codec, denom string, to chain.Address, amount uint64) (chain.Msg, error) {
	return encode(c, TypeMint, Mint{Denom: denom, To: to, Amount: amount})
}

// MsgBurn builds a burn message.
func MsgBurn(c *chain.Codec, denom string, amount uint64) (chain.Msg, error) {
	return encode(c, TypeBurn, Burn{Denom: denom, Amount: amount})
}

// MsgGrant builds a grant message.
func MsgGrant(c *chain.Codec, denom, role string, account chain.Address) (chain.Msg, error) {
	return encode(c, TypeGrant, RoleChange{Denom: denom, Role: role, Account: account})
}

// MsgRevoke builds a revoke message.
func MsgRevoke(c *chain.Codec, denom, role string, account chain.Address) (chain.Msg, error) {
	return encode(c, TypeRevoke, RoleChange{Denom: denom, Role: role, Account: account})
}

// MsgRegisterMerchant builds a register-merchant message.
func MsgRegisterMerchant(c *chain.Codec, denom string, merchant chain.Address, categories []string) (chain.Msg, error) {
	return encode(c, TypeRegisterMerchant, RegisterMerchant{Denom: denom, Merchant: merchant, Categories: categories})
}

// MsgSuspendMerchant builds a suspend-merchant message.
func MsgSuspendMerchant(c *chain.Codec, denom string, merchant chain.Address) (chain.Msg, error) {
	return encode(c, TypeSuspendMerchant, SuspendMerchant{Denom: denom, Merchant: merchant})
}

// MsgPay builds a pay message.
func MsgPay(c *chain.Codec, merchant chain.Address, denom string, amount uint64, category string) (chain.Msg, error) {
	return encode(c, TypePay, Pay{Merchant: merchant, Denom: denom, Amount: amount, Category: category})
}

// MsgRedeem builds a redeem message.
func MsgRedeem(c *chain.Codec, denom string, amount uint64, reference string) (chain.Msg, error) {
	return encode(c, TypeRedeem, Redeem{Denom: denom, Amount: amount, Reference: reference})
}

// MsgConfirmHours builds a confirm-hours message.
func MsgConfirmHours(c *chain.Codec, denom string, volunteer chain.Address, hours, minutes uint32) (chain.Msg, error) {
	return encode(c, TypeConfirmHours, ConfirmHours{Denom: denom, Volunteer: volunteer, Hours: hours, Minutes: minutes})
}
