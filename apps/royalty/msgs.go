package royalty

import "github.com/dure-network/dure/chain"

// Message types (chain.Msg.Type).
const (
	TypeCreateSplit    = "create-split"
	TypeRegister       = "register"
	TypePay            = "pay"
	TypeClaim          = "claim"
	TypeTransfer       = "transfer"
	TypeProposeTerms   = "propose-terms"
	TypeProposeFee     = "propose-fee"
	TypeGrantPlatform  = "grant-platform"
	TypeRevokePlatform = "revoke-platform"
	TypeReport         = "report"
	TypeSell           = "sell"
	TypeBuy            = "buy"
	TypeCancelOrder    = "cancel-order"
	TypeOpenAuction    = "open-auction"
	TypeBid            = "bid"
	TypeCloseAuction   = "close-auction"
)

// MsgTypes lists every message type.
var msgTypes = []string{TypeCreateSplit, TypeRegister, TypePay, TypeClaim, TypeTransfer, TypeProposeTerms,
	TypeProposeFee, TypeGrantPlatform, TypeRevokePlatform, TypeReport, TypeSell, TypeBuy, TypeCancelOrder,
	TypeOpenAuction, TypeBid, TypeCloseAuction}

// CreateSplit makes a split (share register) with the given holders; the
// sender is its creator.
type CreateSplit struct {
	_       struct{} `cbor:",toarray"`
	ID      string
	Holders []Holder
}

// Register registers a work: its metadata, the currencies it is paid in,
// its split of shares (which becomes split ID), an optional recoupment
// waterfall and the resale royalty. The sender is the creator.
type Register struct {
	_         struct{} `cbor:",toarray"`
	ID        string
	CID       string
	ISRC      string
	ISWC      string
	Denoms    []string
	Holders   []Holder
	Waterfall []Tranche
	ResaleBps uint32
}

// Pay pays Amount of Denom to a work (through its waterfall) or, when
// Work names a plain split, to that split.
type Pay struct {
	_      struct{} `cbor:",toarray"`
	Work   string
	Denom  string
	Amount uint64
	Memo   string
}

// Claim pays the sender what it has accrued in a split, in Denom (every
// denom the split has when Denom is empty).
type Claim struct {
	_     struct{} `cbor:",toarray"`
	Split string
	Denom string
}

// Transfer moves the sender's free units of a split to another account,
// settling both first.
type Transfer struct {
	_     struct{} `cbor:",toarray"`
	Split string
	To    chain.Address
	Units uint64
}

// ProposeTerms proposes a new resale royalty for a work (its creator).
type ProposeTerms struct {
	_         struct{} `cbor:",toarray"`
	Work      string
	ResaleBps uint32
}

// ProposeFee proposes a new platform fee (the registry operator).
type ProposeFee struct {
	_           struct{} `cbor:",toarray"`
	PlatformBps uint32
}

// PlatformChange grants (with Name) or revokes the platform role.
type PlatformChange struct {
	_       struct{} `cbor:",toarray"`
	Account chain.Address
	Name    string
}

// SubmitReport is a platform's usage report for a period, paid in the
// same transaction. Supersedes names an earlier report of the same
// platform that this one corrects.
type SubmitReport struct {
	_          struct{} `cbor:",toarray"`
	ID         string
	Period     string
	Denom      string
	Lines      []ReportLine
	Supersedes string
}

// Sell offers Units of a split at Price per unit in Denom; the units are
// locked until bought or cancelled.
type Sell struct {
	_     struct{} `cbor:",toarray"`
	Split string
	Units uint64
	Denom string
	Price uint64
}

// Buy buys Units of an order (all that remain when 0).
type Buy struct {
	_     struct{} `cbor:",toarray"`
	Order uint64
	Units uint64
}

// CancelOrder withdraws an order (its seller).
type CancelOrder struct {
	_     struct{} `cbor:",toarray"`
	Order uint64
}

// OpenAuction offers Units of the creator's holding in a work at a
// uniform-price auction that closes Duration seconds later.
type OpenAuction struct {
	_        struct{} `cbor:",toarray"`
	Work     string
	Units    uint64
	Denom    string
	MinPrice uint64
	Duration int64
}

// PlaceBid bids for Units at up to Price each; Units × Price is escrowed.
type PlaceBid struct {
	_       struct{} `cbor:",toarray"`
	Auction uint64
	Units   uint64
	Price   uint64
}

// CloseAuction clears an auction whose end has passed (anyone).
type CloseAuction struct {
	_       struct{} `cbor:",toarray"`
	Auction uint64
}

func encode(c *chain.Codec, typ string, body any) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, typ, body)
}

// MsgCreateSplit builds a create-split message.
func MsgCreateSplit(c *chain.Codec, id string, holders []Holder) (chain.Msg, error) {
	return encode(c, TypeCreateSplit, CreateSplit{ID: id, Holders: holders})
}

// MsgRegister builds a register message.
func MsgRegister(c *chain.Codec, r Register) (chain.Msg, error) { return encode(c, TypeRegister, r) }

// MsgPay builds a pay message.
func MsgPay(c *chain.Codec, work, denom string, amount uint64, memo string) (chain.Msg, error) {
	return encode(c, TypePay, Pay{Work: work, Denom: denom, Amount: amount, Memo: memo})
}

// MsgClaim builds a claim message.
func MsgClaim(c *chain.Codec, split, denom string) (chain.Msg, error) {
	return encode(c, TypeClaim, Claim{Split: split, Denom: denom})
}

// MsgTransfer builds a transfer message.
func MsgTransfer(c *chain.Codec, split string, to chain.Address, units uint64) (chain.Msg, error) {
	return encode(c, TypeTransfer, Transfer{Split: split, To: to, Units: units})
}

// MsgProposeTerms builds a propose-terms message.
func MsgProposeTerms(c *chain.Codec, work string, resaleBps uint32) (chain.Msg, error) {
	return encode(c, TypeProposeTerms, ProposeTerms{Work: work, ResaleBps: resaleBps})
}

// MsgProposeFee builds a propose-fee message.
func MsgProposeFee(c *chain.Codec, platformBps uint32) (chain.Msg, error) {
	return encode(c, TypeProposeFee, ProposeFee{PlatformBps: platformBps})
}

// MsgGrantPlatform builds a grant-platform message.
func MsgGrantPlatform(c *chain.Codec, account chain.Address, name string) (chain.Msg, error) {
	return encode(c, TypeGrantPlatform, PlatformChange{Account: account, Name: name})
}

// MsgRevokePlatform builds a revoke-platform message.
func MsgRevokePlatform(c *chain.Codec, account chain.Address) (chain.Msg, error) {
	return encode(c, TypeRevokePlatform, PlatformChange{Account: account})
}

// MsgReport builds a report message.
func MsgReport(c *chain.Codec, r SubmitReport) (chain.Msg, error) { return encode(c, TypeReport, r) }

// MsgSell builds a sell message.
func MsgSell(c *chain.Codec, split string, units uint64, denom string, price uint64) (chain.Msg, error) {
	return encode(c, TypeSell, Sell{Split: split, Units: units, Denom: denom, Price: price})
}

// MsgBuy builds a buy message.
func MsgBuy(c *chain.Codec, order, units uint64) (chain.Msg, error) {
	return encode(c, TypeBuy, Buy{Order: order, Units: units})
}

// MsgCancelOrder builds a cancel-order message.
func MsgCancelOrder(c *chain.Codec, order uint64) (chain.Msg, error) {
	return encode(c, TypeCancelOrder, CancelOrder{Order: order})
}

// MsgOpenAuction builds an open-auction message.
func MsgOpenAuction(c *chain.Codec, work string, units uint64, denom string, minPrice uint64, durationSeconds int64) (chain.Msg, error) {
	return encode(c, TypeOpenAuction, OpenAuction{Work: work, Units: units, Denom: denom, MinPrice: minPrice, Duration: durationSeconds})
}

// MsgBid builds a bid message.
func MsgBid(c *chain.Codec, auction, units, price uint64) (chain.Msg, error) {
	return encode(c, TypeBid, PlaceBid{Auction: auction, Units: units, Price: price})
}

// MsgCloseAuction builds a close-auction message.
func MsgCloseAuction(c *chain.Codec, auction uint64) (chain.Msg, error) {
	return encode(c, TypeCloseAuction, CloseAuction{Auction: auction})
}
