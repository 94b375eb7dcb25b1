package energy

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/dure-network/dure/chain"
)

// ModuleName routes messages to this module and prefixes its state.
const ModuleName = "energy"

// Sentinel errors. Deliver wraps each together with a chain error class
// (chain.ErrInvalidMsg, chain.ErrUnauthorized, chain.ErrInsufficient) so
// errors.Is works for both and the tx result code is stable.
var (
	ErrOverflow       = errors.New("energy: amount overflow")
	ErrBadMarket      = errors.New("energy: invalid market parameters")
	ErrMarketExists   = errors.New("energy: market already exists")
	ErrUnknownMarket  = errors.New("energy: unknown market")
	ErrNotCreator     = errors.New("energy: only the market's creator may do this")
	ErrNotOperator    = errors.New("energy: sender is not an operator of the market")
	ErrBadMeter       = errors.New("energy: invalid meter")
	ErrMeterExists    = errors.New("energy: meter already registered")
	ErrUnknownMeter   = errors.New("energy: unregistered meter")
	ErrNotAttested    = errors.New("energy: meter not attested by the operator")
	ErrSuspended      = errors.New("energy: meter suspended")
	ErrNotOwner       = errors.New("energy: sender does not own the meter")
	ErrWrongKind      = errors.New("energy: meter kind cannot do this")
	ErrBadSignature   = errors.New("energy: bad device signature")
	ErrMisaligned     = errors.New("energy: interval not aligned to the market's grid")
	ErrFutureInterval = errors.New("energy: interval has not ended")
	ErrRegisterBack   = errors.New("energy: register went backwards")
	ErrCounterGap     = errors.New("energy: pagination counter gap")
	ErrDuplicate      = errors.New("energy: duplicate reading")
	ErrStale          = errors.New("energy: reading older than the meter's last one")
	ErrBadReading     = errors.New("energy: invalid reading")
	ErrWindowClosed   = errors.New("energy: correction window closed")
	ErrGateClosed     = errors.New("energy: gate closed for this interval")
	ErrTooFarAhead    = errors.New("energy: interval too far ahead")
	ErrBadOrder       = errors.New("energy: invalid order")
	ErrBookFull       = errors.New("energy: order book of the interval is full")
	ErrMeterOrders    = errors.New("energy: too many orders of this meter in the interval")
	ErrBothSides      = errors.New("energy: a meter cannot buy and sell in one interval")
	ErrUnknownOrder   = errors.New("energy: unknown order")
	ErrUnknownSession = errors.New("energy: unknown charging session")
	ErrSessionClosed  = errors.New("energy: charging session already settled")
	ErrTariffTooHigh  = errors.New("energy: charger tariff plus grid fee above the session's max price")
	ErrCorrupt        = errors.New("energy: corrupt state")
)

// Limits on message fields and on work, so nothing grows or runs without
// bound.
const (
	MaxIDLen            = 64
	MaxReadingsPerMsg   = 500               // about 60 KiB: a tx is at most 64 KiB
	MaxWhPerOrder       = 1_000_000_000     // 1 GWh
	MaxOrdersPerMeter   = 50                // per interval, so one meter cannot fill a book
	MaxPrice            = 1_000_000_000_000 // price units per kWh
	MaxHorizonSeconds   = 7 * 86400         // orders at most a week ahead
	DefaultIntervalSecs = 900               // 15 minutes of block time
	MinIntervalSecs     = 10                // short intervals are for test networks
	maxQueryItems       = 1000
)

// Meter kinds.
const (
	KindProducer  = "producer"
	KindConsumer  = "consumer"
	KindProsumer  = "prosumer"
	KindBattery   = "battery"
	KindEVCharger = "ev-charger"
)

// Kinds lists every meter kind.
func Kinds() []string {
	return []string{KindProducer, KindConsumer, KindProsumer, KindBattery, KindEVCharger}
}

func validKind(k string) bool {
	for _, x := range Kinds() {
		if x == k {
			return true
		}
	}
	return false
}

func canSell(k string) bool { return k == KindProducer || k == KindProsumer || k == KindBattery }
func canBuy(k string) bool {
	return k == KindConsumer || k == KindProsumer || k == KindBattery || k == KindEVCharger
}

// Reading flags.
const (
	FlagMetered   uint8 = 0
	FlagEstimated uint8 = 1
)

// Order sides.
const (
	SideSell uint8 = 's'
	SideBuy  uint8 = 'b'
)

// Params configure the module at construction (node config, not state).
type Params struct {
	// MaxIntervalsPerBlock bounds EndBlock work: intervals cleared plus
	// intervals settled per block. The rest continue next block, oldest
	// first.
	MaxIntervalsPerBlock int
	// MaxOrdersPerInterval bounds one interval's book, hence one clearing.
	MaxOrdersPerInterval int
	// MaxWorkPerBlock bounds orders cleared plus trades settled per block;
	// an interval larger than that is taken alone.
	MaxWorkPerBlock int
}

// DefaultParams are the values a node uses unless configured.
func DefaultParams() Params {
	return Params{MaxIntervalsPerBlock: 8, MaxOrdersPerInterval: 10_000, MaxWorkPerBlock: 10_000}
}

// EscrowAccount holds bid escrow and cleared payments until settlement:
// the first 20 bytes of sha2-256("dure/module/energy/escrow"), which no key
// hashes to.
func EscrowAccount() chain.Address {
	sum := sha256.Sum256([]byte("dure/module/energy/escrow"))
	var a chain.Address
	copy(a[:], sum[:chain.AddressLen])
	return a
}

// Market is a region's exchange and its parameters, fixed at creation.
// Prices are in the currency's smallest unit per kWh; times are block-time
// Unix seconds, durations seconds.
type Market struct {
	_       struct{}      `cbor:",toarray"`
	ID      string        `json:"id"`
	Creator chain.Address `json:"creator"`
	Denom   string        `json:"denom"`
	// IntervalSecs is the delivery interval; intervals start at multiples
	// of it since the Unix epoch.
	IntervalSecs int64 `json:"interval_secs"`
	// GateLeadSecs: orders for interval T close at T - GateLeadSecs, and
	// the interval clears in the first EndBlock at or after that time.
	GateLeadSecs int64 `json:"gate_lead_secs"`
	// FeePerKWh and FeeBps are the grid fee buyers pay to the operator.
	FeePerKWh uint64 `json:"fee_per_kwh,string"`
	FeeBps    uint32 `json:"fee_bps"`
	// Operator receives the grid fees (the local grid operator).
	Operator chain.Address `json:"operator"`
	// RetailPrice and FeedInPrice value energy beyond the trades.
	RetailPrice uint64 `json:"retail_price,string"`
	FeedInPrice uint64 `json:"feed_in_price,string"`
	// PenaltyBps of the undelivered energy's value is paid by a seller that
	// exported less than it sold, to the buyer.
	PenaltyBps uint32 `json:"penalty_bps"`
	// ReadingDeadlineSecs after an interval ends, it settles with the
	// readings present; corrections are possible until then.
	ReadingDeadlineSecs int64 `json:"reading_deadline_secs"`
}

func (mk *Market) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %w: "+format, append([]any{chain.ErrInvalidMsg, ErrBadMarket}, a...)...)
	}
	switch {
	case !validID(mk.ID):
		return bad("id %q: 1 to %d letters, digits, '-', '_' or '.'", mk.ID, MaxIDLen)
	case mk.Denom == "" || len(mk.Denom) > 64:
		return bad("denom %q", mk.Denom)
	case mk.IntervalSecs < MinIntervalSecs || mk.IntervalSecs > 86400 || 86400%mk.IntervalSecs != 0:
		return bad("interval %ds: %d s to 1 day, dividing a day", mk.IntervalSecs, MinIntervalSecs)
	case mk.GateLeadSecs < 0 || mk.GateLeadSecs > 86400:
		return bad("gate lead %ds: 0 to 1 day", mk.GateLeadSecs)
	case mk.FeePerKWh > MaxPrice || mk.RetailPrice > MaxPrice || mk.FeedInPrice > MaxPrice:
		return bad("prices at most %d per kWh", uint64(MaxPrice))
	case mk.FeeBps > 10000:
		return bad("fee %d bps: at most 10000", mk.FeeBps)
	case mk.PenaltyBps > 100000:
		return bad("penalty %d bps: at most 100000", mk.PenaltyBps)
	case mk.ReadingDeadlineSecs < 0 || mk.ReadingDeadlineSecs > 30*86400:
		return bad("reading deadline %ds: 0 to 30 days", mk.ReadingDeadlineSecs)
	case mk.Operator.IsZero():
		return bad("operator missing")
	}
	return nil
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// Meter is a registered device with its state of readings.
type Meter struct {
	_         struct{}      `cbor:",toarray"`
	ID        string        `json:"id"`
	Market    string        `json:"market"`
	Owner     chain.Address `json:"owner"`
	DeviceKey chain.PubKey  `json:"device_key"`
	Kind      string        `json:"kind"`
	// Tariff is what an EV charger charges per kWh (sessions), 0 otherwise.
	Tariff     uint64        `json:"tariff,string"`
	Attested   bool          `json:"attested"`
	AttestedBy chain.Address `json:"attested_by"`
	Suspended  bool          `json:"suspended"`
	// The last accepted reading: pagination counter, interval start (0
	// when none), end registers; and the end registers of the reading
	// before it (for corrections of the last one).
	Counter      uint64 `json:"counter"`
	LastInterval int64  `json:"last_interval"`
	ImportWh     uint64 `json:"import_wh,string"`
	ExportWh     uint64 `json:"export_wh,string"`
	PrevImportWh uint64 `json:"prev_import_wh,string"`
	PrevExportWh uint64 `json:"prev_export_wh,string"`
	HasReading   bool   `json:"has_reading"`
}

// Reading is one device-signed interval reading: cumulative import and
// export registers (Wh) at the interval's start and end, and the device's
// pagination counter, which must grow by exactly one per reading.
type Reading struct {
	_             struct{} `cbor:",toarray"`
	Meter         string   `json:"meter"`
	IntervalStart int64    `json:"interval_start"`
	Counter       uint64   `json:"counter"`
	StartImportWh uint64   `json:"start_import_wh,string"`
	StartExportWh uint64   `json:"start_export_wh,string"`
	EndImportWh   uint64   `json:"end_import_wh,string"`
	EndExportWh   uint64   `json:"end_export_wh,string"`
	Flag          uint8    `json:"flag"`
	Sig           []byte   `json:"sig"`
}

// StoredReading is a reading as kept in state, per meter and interval.
type StoredReading struct {
	_         struct{} `cbor:",toarray"`
	Counter   uint64   `json:"counter"`
	ImportWh  uint64   `json:"import_wh,string"` // energy imported during the interval
	ExportWh  uint64   `json:"export_wh,string"` // energy exported during the interval
	Flag      uint8    `json:"flag"`
	Corrected bool     `json:"corrected"`
}

// Order is a sell offer or buy bid for one delivery interval. Price is a
// seller's minimum or a buyer's maximum, per kWh; a buyer's maximum
// includes the grid fee. Escrow is what a bid holds.
type Order struct {
	_        struct{}      `cbor:",toarray"`
	ID       uint64        `json:"id"`
	Market   string        `json:"market"`
	Interval int64         `json:"interval"`
	Side     uint8         `json:"side"`
	Meter    string        `json:"meter"`
	Owner    chain.Address `json:"owner"`
	Wh       uint64        `json:"wh,string"`
	Price    uint64        `json:"price,string"`
	Escrow   uint64        `json:"escrow,string"`
}

// Trade is one cleared match: Wh from a seller meter to a buyer meter at
// the interval's clearing price; Cost (value + fee) stays in escrow until
// settlement.
type Trade struct {
	_         struct{}      `cbor:",toarray"`
	Seq       uint32        `json:"seq"`
	SellOrder uint64        `json:"sell_order"`
	BuyOrder  uint64        `json:"buy_order"`
	Seller    string        `json:"seller"`
	Buyer     string        `json:"buyer"`
	SellerAcc chain.Address `json:"seller_account"`
	BuyerAcc  chain.Address `json:"buyer_account"`
	Wh        uint64        `json:"wh,string"`
	Price     uint64        `json:"price,string"`
	Cost      uint64        `json:"cost,string"`
	// Filled at settlement.
	Settled     bool   `json:"settled"`
	DeliveredWh uint64 `json:"delivered_wh,string"`
	Paid        uint64 `json:"paid,string"`
	Fee         uint64 `json:"fee,string"`
	Refund      uint64 `json:"refund,string"`
	Penalty     uint64 `json:"penalty,string"`
}

// TradesPerPage is how many trades share one state value: a clearing of
// thousands of trades writes tens of values, not thousands, which is what
// the sparse-Merkle state charges for.
const TradesPerPage = 256

// TradePage is up to TradesPerPage trades of an interval, by Seq.
type TradePage struct {
	_      struct{} `cbor:",toarray"`
	Trades []Trade  `json:"trades"`
}

// Clearing is the result of one market interval.
type Clearing struct {
	_        struct{} `cbor:",toarray"`
	Market   string   `json:"market"`
	Interval int64    `json:"interval"`
	Price    uint64   `json:"price,string"`
	VolumeWh uint64   `json:"volume_wh,string"`
	Offers   uint32   `json:"offers"`
	Bids     uint32   `json:"bids"`
	Trades   uint32   `json:"trades"`
	Height   uint64   `json:"height"`
	Settled  bool     `json:"settled"`
}

// Statement is one meter's account of one settled interval.
type Statement struct {
	_              struct{} `cbor:",toarray"`
	Meter          string   `json:"meter"`
	Interval       int64    `json:"interval"`
	Reading        string   `json:"reading"` // "metered", "estimated" or "missing"
	ImportWh       uint64   `json:"import_wh,string"`
	ExportWh       uint64   `json:"export_wh,string"`
	SoldWh         uint64   `json:"sold_wh,string"`
	BoughtWh       uint64   `json:"bought_wh,string"`
	DeliveredWh    uint64   `json:"delivered_wh,string"`
	Received       uint64   `json:"received,string"` // seller: paid for delivered energy
	Paid           uint64   `json:"paid,string"`     // buyer: energy value + fee
	Fees           uint64   `json:"fees,string"`     // buyer: grid fee part of Paid
	Refunded       uint64   `json:"refunded,string"` // buyer: escrow returned for the shortfall
	PenaltyPaid    uint64   `json:"penalty_paid,string"`
	PenaltyGot     uint64   `json:"penalty_received,string"`
	ExcessExportWh uint64   `json:"excess_export_wh,string"` // beyond trades, at the feed-in price
	FeedInValue    uint64   `json:"feed_in_value,string"`
	ExcessImportWh uint64   `json:"excess_import_wh,string"` // beyond trades, at the retail price
	RetailValue    uint64   `json:"retail_value,string"`
}

// Session is an EV charging session: a standing bid at the charger's
// tariff, settled from the charger's signed session reading.
type Session struct {
	_           struct{}      `cbor:",toarray"`
	ID          uint64        `json:"id"`
	Charger     string        `json:"charger"`
	Driver      chain.Address `json:"driver"`
	MaxWh       uint64        `json:"max_wh,string"`
	MaxPrice    uint64        `json:"max_price,string"`
	Tariff      uint64        `json:"tariff,string"`
	Escrow      uint64        `json:"escrow,string"`
	Started     int64         `json:"started"`
	Deadline    int64         `json:"deadline"` // settles with no energy after Deadline + reading deadline
	Settled     bool          `json:"settled"`
	DeliveredWh uint64        `json:"delivered_wh,string"`
	Paid        uint64        `json:"paid,string"`
	Fee         uint64        `json:"fee,string"`
	Refunded    uint64        `json:"refunded,string"`
}

// SessionReading is the charger's signed record of one session: start and
// stop import registers, on the same pagination counter as its interval
// readings.
type SessionReading struct {
	_       struct{} `cbor:",toarray"`
	Session uint64   `json:"session"`
	Charger string   `json:"charger"`
	Counter uint64   `json:"counter"`
	StartWh uint64   `json:"start_wh,string"`
	StopWh  uint64   `json:"stop_wh,string"`
	Sig     []byte   `json:"sig"`
}
