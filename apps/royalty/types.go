package royalty

import (
	"errors"
	"fmt"

	"github.com/dure-network/dure/chain"
)

// ModuleName routes messages to this module and prefixes its state.
const ModuleName = "royalty"

// Sentinel errors. Handlers wrap each together with the chain error class
// (chain.ErrInvalidMsg, chain.ErrUnauthorized, chain.ErrInsufficient), so
// both errors.Is checks work and the tx result code is stable.
var (
	ErrBadID           = errors.New("royalty: invalid id")
	ErrExists          = errors.New("royalty: already exists")
	ErrUnknownWork     = errors.New("royalty: unknown work")
	ErrUnknownSplit    = errors.New("royalty: unknown split")
	ErrBadSplit        = errors.New("royalty: invalid split")
	ErrBadWaterfall    = errors.New("royalty: invalid waterfall")
	ErrTooDeep         = errors.New("royalty: nesting too deep")
	ErrBadMetadata     = errors.New("royalty: invalid metadata")
	ErrBadDenom        = errors.New("royalty: denom not accepted")
	ErrTooManyDenoms   = errors.New("royalty: too many denoms")
	ErrZeroAmount      = errors.New("royalty: zero amount")
	ErrOverflow        = errors.New("royalty: amount overflow")
	ErrNotCreator      = errors.New("royalty: sender is not the creator")
	ErrNotOperator     = errors.New("royalty: sender is not the registry operator")
	ErrNotPlatform     = errors.New("royalty: sender is not a platform")
	ErrCapIncrease     = errors.New("royalty: cut increase above the cap")
	ErrNoShares        = errors.New("royalty: not enough free shares")
	ErrNothingToClaim  = errors.New("royalty: nothing to claim")
	ErrBadReport       = errors.New("royalty: invalid report")
	ErrDuplicateReport = errors.New("royalty: duplicate report id")
	ErrUnknownReport   = errors.New("royalty: unknown report")
	ErrSuperseded      = errors.New("royalty: report already superseded")
	ErrUnknownOrder    = errors.New("royalty: unknown order")
	ErrUnknownAuction  = errors.New("royalty: unknown auction")
	ErrAuctionOpen     = errors.New("royalty: auction still open")
	ErrAuctionClosed   = errors.New("royalty: auction closed")
	ErrBadPrice        = errors.New("royalty: price below the minimum")
	ErrTooManyBids     = errors.New("royalty: auction has too many bids")
	ErrCorrupt         = errors.New("royalty: corrupt state")
)

// TotalUnits is the number of share units of every split: parts per
// million. A split's holdings always sum to exactly this.
const TotalUnits = 1_000_000

// Limits, so no message makes state or work grow without bound.
const (
	MaxIDLen          = 64
	MaxCIDLen         = 128
	MaxMemoLen        = 128
	MaxEntries        = 1000 // holders given when a split is created (more join by transfers and sales)
	MaxNested         = 4    // split holders of one split
	MaxDepth          = 4    // levels of nested splits below a work
	MaxTreeNodes      = 16   // splits one payment may reach, tranches and nesting together
	MaxTranches       = 8
	MaxWorkDenoms     = 4
	MaxSplitDenoms    = 8 // denoms one split accrues (each holder settles each on transfer)
	MaxReportLines    = 2000
	MaxTerritoryLen   = 8
	MaxPeriodLen      = 16
	MaxBids           = 500
	MaxDueTermsPerBlk = 64
	BpsScale          = 10_000
)

// Registry is the registry's configuration, in state under "P" (genesis,
// then the timelocked platform-fee changes). A chain whose genesis names no
// operator runs an open registry: no platform fee, and any account may
// register itself as a platform.
type Registry struct {
	_ struct{} `cbor:",toarray"`
	// Operator grants the platform role and receives the platform fee.
	Operator chain.Address `json:"operator"`
	// PlatformBps is the platform's cut of every share sale and auction.
	PlatformBps uint32 `json:"platform_bps"`
	// MaxPlatformBps and MaxResaleBps bound the two cuts for good.
	MaxPlatformBps uint32 `json:"max_platform_bps"`
	MaxResaleBps   uint32 `json:"max_resale_bps"`
	// MaxIncreaseBps caps how much one terms change may raise a cut.
	MaxIncreaseBps uint32 `json:"max_increase_bps"`
	// TimelockSeconds is how long after a proposal a terms change takes
	// effect.
	TimelockSeconds int64 `json:"timelock_seconds"`
	// Pending platform fee change (zero At: none).
	PendingPlatformBps uint32 `json:"pending_platform_bps,omitempty"`
	PendingAt          int64  `json:"pending_at,omitempty"`
}

// DefaultRegistry is an open registry: no operator, no platform fee,
// resale royalty at most 10%, raised by at most 1 point per change, a
// seven-day timelock.
func DefaultRegistry() Registry {
	return Registry{MaxPlatformBps: 1000, MaxResaleBps: 1000, MaxIncreaseBps: 100, TimelockSeconds: 7 * 86400}
}

func (r *Registry) open() bool { return r.Operator.IsZero() }

func (r *Registry) validate() error {
	switch {
	case r.MaxPlatformBps > BpsScale || r.MaxResaleBps > BpsScale || r.MaxPlatformBps+r.MaxResaleBps > BpsScale:
		return fmt.Errorf("%w: max_platform_bps + max_resale_bps above %d", ErrBadSplit, BpsScale)
	case r.PlatformBps > r.MaxPlatformBps:
		return fmt.Errorf("%w: platform_bps %d above max %d", ErrCapIncrease, r.PlatformBps, r.MaxPlatformBps)
	case r.Operator.IsZero() && r.PlatformBps != 0:
		return fmt.Errorf("%w: a platform fee needs an operator to receive it", ErrNotOperator)
	case r.TimelockSeconds < 0:
		return fmt.Errorf("%w: negative timelock", ErrBadSplit)
	case r.PendingAt != 0 && r.PendingPlatformBps > r.MaxPlatformBps:
		return fmt.Errorf("%w: pending platform_bps", ErrCapIncrease)
	}
	return nil
}

// Holder is one holding named when a split is created: an account or,
// when Split is set, another split (nested).
type Holder struct {
	_       struct{}      `cbor:",toarray"`
	Account chain.Address `json:"account,omitzero"`
	Split   string        `json:"split,omitempty"`
	Units   uint64        `json:"units"`
}

// Tranche is one step of a recoupment waterfall: it receives payments
// while the work's cumulative income in its denom is below Threshold
// (absolute, cumulative); the last tranche has Threshold 0 and takes the
// rest. To is a split id; an account (Account set) gets a split of its own
// called "<work>/t<index>".
type Tranche struct {
	_         struct{}      `cbor:",toarray"`
	Split     string        `json:"split,omitempty"`
	Account   chain.Address `json:"account,omitzero"`
	Threshold uint64        `json:"threshold,string"`
}

// Work is a registered creative work (state "w/<id>").
type Work struct {
	_       struct{}      `cbor:",toarray"`
	ID      string        `json:"id"`
	Creator chain.Address `json:"creator"`
	CID     string        `json:"cid"`
	ISRC    string        `json:"isrc,omitempty"`
	ISWC    string        `json:"iswc,omitempty"`
	Denoms  []string      `json:"denoms"`
	// Waterfall lists the tranche splits (resolved ids) and thresholds;
	// the last one takes the rest. Without a waterfall everything goes to
	// the work's own split (id = work id).
	Waterfall []Tranche `json:"waterfall"`
	// Income is what the work has been paid in Denoms[0] through the
	// waterfall (it decides which tranche is being filled).
	Income    uint64 `json:"income,string"`
	ResaleBps uint32 `json:"resale_bps"`
	// Pending resale royalty change, effective at PendingAt (0: none).
	PendingResaleBps uint32 `json:"pending_resale_bps,omitempty"`
	PendingAt        int64  `json:"pending_at,omitempty"`
	Height           uint64 `json:"height"`
}

// Split is a share register of TotalUnits units (state "s/<id>"). Account
// holdings are under "h/"; holdings by other splits (nested) are listed
// here, bounded, and are paid eagerly on every payment.
type Split struct {
	_       struct{}      `cbor:",toarray"`
	ID      string        `json:"id"`
	Creator chain.Address `json:"creator"`
	Nested  []Holder      `json:"nested,omitempty"`
	// Depth is the longest chain of nested splits below (0: none); Nodes
	// the number of splits a payment reaches (itself included).
	Depth uint8  `json:"depth"`
	Nodes uint16 `json:"nodes"`
	// Denoms is every denom the split has received, in arrival order.
	Denoms []string `json:"denoms,omitempty"`
	// Holders counts account holdings (records under "h/").
	Holders uint64 `json:"holders"`
}

// Pool is a split's accumulator for one denom (state "p/").
//
// Paid is every unit ever credited to the split. An account holding of u
// units is entitled to u·Paid/TotalUnits: it has been settled up to Mark
// (its checkpoint of Paid), carrying the sub-unit remainder Frac (in
// millionths), so nothing is rounded away. Nested holdings are settled on
// every payment; their remainders are NestedFrac.
type Pool struct {
	_            struct{} `cbor:",toarray"`
	Paid         uint64   `json:"paid,string"`
	Claimed      uint64   `json:"claimed,string"`
	NestedPaid   []uint64 `json:"nested_paid,omitempty"`
	NestedFrac   []uint64 `json:"nested_frac,omitempty"`
	ClaimedCount uint64   `json:"claims"`
}

// Accrual is an account's settled position in one denom of a split.
type Accrual struct {
	_       struct{} `cbor:",toarray"`
	Denom   string   `json:"denom"`
	Mark    uint64   `json:"mark,string"`
	Owed    uint64   `json:"owed,string"`
	Frac    uint64   `json:"frac"`
	Claimed uint64   `json:"claimed,string"`
}

// Holding is an account's units in a split (state "h/"). Locked units are
// offered in an open order or auction.
type Holding struct {
	_      struct{}  `cbor:",toarray"`
	Units  uint64    `json:"units"`
	Locked uint64    `json:"locked"`
	Acc    []Accrual `json:"accruals,omitempty"`
	// Changed is the height its units last changed (0: since the split
	// was created).
	Changed uint64 `json:"changed"`
}

func (h *Holding) empty() bool {
	if h.Units != 0 || h.Locked != 0 {
		return false
	}
	for _, a := range h.Acc {
		if a.Owed != 0 || a.Frac != 0 {
			return false
		}
	}
	return true
}

// Platform is an account allowed to submit usage reports.
type Platform struct {
	_         struct{}      `cbor:",toarray"`
	Name      string        `json:"name"`
	GrantedBy chain.Address `json:"granted_by,omitzero"`
	Height    uint64        `json:"height"`
}

// ReportLine is one line of a usage report: the work's usage in a
// territory (ISO 3166-1 alpha-2, or "WW") and what is owed for it.
type ReportLine struct {
	_         struct{} `cbor:",toarray"`
	Work      string   `json:"work"`
	Territory string   `json:"territory"`
	Units     uint64   `json:"units,string"`
	Amount    uint64   `json:"amount,string"`
}

// WorkTotal is what a report owes one work (its lines summed).
type WorkTotal struct {
	_      struct{} `cbor:",toarray"`
	Work   string   `json:"work"`
	Amount uint64   `json:"amount,string"`
}

// Report is a settled usage report (state "r/<platform><id>").
type Report struct {
	_            struct{}      `cbor:",toarray"`
	Platform     chain.Address `json:"platform"`
	ID           string        `json:"id"`
	Period       string        `json:"period"`
	Denom        string        `json:"denom"`
	Lines        []ReportLine  `json:"lines"`
	Totals       []WorkTotal   `json:"totals"`
	Supersedes   string        `json:"supersedes,omitempty"`
	SupersededBy string        `json:"superseded_by,omitempty"`
	// Paid is what the platform paid with this report; Credited what it
	// was credited back (a correction downwards, or credit used up).
	Paid       uint64 `json:"paid,string"`
	CreditUsed uint64 `json:"credit_used,string"`
	Credited   uint64 `json:"credited,string"`
	Height     uint64 `json:"height"`
	Time       int64  `json:"time"`
}

// Order is an escrowed offer of units at a price per unit.
type Order struct {
	_      struct{}      `cbor:",toarray"`
	ID     uint64        `json:"id"`
	Split  string        `json:"split"`
	Seller chain.Address `json:"seller"`
	Units  uint64        `json:"units"`
	Denom  string        `json:"denom"`
	Price  uint64        `json:"price,string"`
}

// Auction is a primary share auction: Units of the creator's holding,
// sold at one clearing price to the highest bids when it closes.
type Auction struct {
	_        struct{}      `cbor:",toarray"`
	ID       uint64        `json:"id"`
	Work     string        `json:"work"`
	Seller   chain.Address `json:"seller"`
	Units    uint64        `json:"units"`
	Denom    string        `json:"denom"`
	MinPrice uint64        `json:"min_price,string"`
	End      int64         `json:"end"`
	Bids     uint64        `json:"bids"`
	Closed   bool          `json:"closed"`
	// Set when closed.
	Price uint64 `json:"price,string"`
	Sold  uint64 `json:"sold"`
}

// Bid is an escrowed bid: Units at up to Price each.
type Bid struct {
	_      struct{}      `cbor:",toarray"`
	Seq    uint64        `json:"seq"`
	Bidder chain.Address `json:"bidder"`
	Units  uint64        `json:"units"`
	Price  uint64        `json:"price,string"`
	// Filled is set when the auction closes.
	Filled uint64 `json:"filled"`
}

// marker is the value of presence-only keys (state refuses empty values).
var marker = []byte{1}
