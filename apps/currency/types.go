package currency

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dure-network/dure/chain"
)

// Sentinel errors. Deliver wraps each together with the chain error class
// (chain.ErrInvalidMsg, chain.ErrUnauthorized, chain.ErrInsufficient) so both
// errors.Is checks work and the tx result code is stable.
var (
	ErrOverflow            = errors.New("currency: amount overflow")
	ErrUnknownDenom        = errors.New("currency: unknown denom")
	ErrDenomExists         = errors.New("currency: denom already exists")
	ErrBadDenom            = errors.New("currency: invalid denom")
	ErrBadRules            = errors.New("currency: invalid rules")
	ErrCapExceeded         = errors.New("currency: holding cap exceeded")
	ErrWrongRole           = errors.New("currency: sender lacks the role")
	ErrNotMerchant         = errors.New("currency: not an approved merchant")
	ErrMerchantSuspended   = errors.New("currency: merchant suspended")
	ErrCategoryNotAllowed  = errors.New("currency: category not allowed")
	ErrVoucherEnded        = errors.New("currency: voucher has ended")
	ErrTransferNotAllowed  = errors.New("currency: transfer between holders not allowed")
	ErrNotRedeemable       = errors.New("currency: not redeemable")
	ErrNoHourlyRate        = errors.New("currency: currency does not credit hours")
	ErrInsufficientBalance = errors.New("currency: insufficient balance")
	ErrCorrupt             = errors.New("currency: corrupt state")
)

// Limits on message fields, so a message cannot make the state grow without
// bound or a query return without bound.
const (
	MaxCategories   = 16
	MaxCategoryLen  = 32
	MaxReferenceLen = 128
	MaxDecimals     = 18
	// MinDemurragePeriod keeps the per-touch demurrage loop short.
	MinDemurragePeriod = 3600
	// maxDemurrageSteps bounds the work of one touch; later touches continue.
	maxDemurrageSteps = 512
	// DefaultLotSeconds is the lot granularity when a currency expires but
	// sets none: lots minted on one day share one expiry.
	DefaultLotSeconds = 86400
)

// Transfer policies.
const (
	TransferFree      = "free"      // holders may send to anyone
	TransferMerchants = "merchants" // holders may only pay approved merchants
)

// Params configure the module at construction (node config, not state).
type Params struct {
	// MaxExpiryPerBlock bounds EndBlock work: lot expiries plus voucher
	// holders swept per block. The rest continue next block.
	MaxExpiryPerBlock int
	// ModuleAccounts (staking, energy escrow, …) are exempt from holding
	// caps and transfer policies, like the fee collector.
	ModuleAccounts []chain.Address
}

// DefaultParams are the values a node uses unless configured.
func DefaultParams() Params { return Params{MaxExpiryPerBlock: 256} }

// ModuleAddress is the account of a module: the first 20 bytes of
// sha2-256("dure/module/" + name). No key hashes to it, so only code moves
// its funds.
func ModuleAddress(name string) chain.Address {
	sum := sha256.Sum256([]byte("dure/module/" + name))
	var a chain.Address
	copy(a[:], sum[:chain.AddressLen])
	return a
}

// FeeCollector is the account that receives transaction fees in the native
// denom: ModuleAddress("currency/fees").
func FeeCollector() chain.Address { return ModuleAddress("currency/fees") }

// Role is a permission within one currency, granted by its issuer.
type Role byte

// Roles. The issuer implicitly holds all of them.
const (
	RoleMinter      Role = 'm'
	RoleApprover    Role = 'a' // registers and suspends merchants
	RoleCoordinator Role = 'c' // confirms volunteer hours
)

// ParseRole accepts "minter", "approver" (or "merchant-approver") and "coordinator".
func ParseRole(s string) (Role, error) {
	switch s {
	case "minter":
		return RoleMinter, nil
	case "approver", "merchant-approver":
		return RoleApprover, nil
	case "coordinator":
		return RoleCoordinator, nil
	}
	return 0, fmt.Errorf("%w: unknown role %q (want minter, approver or coordinator)", chain.ErrInvalidMsg, s)
}

func (r Role) String() string {
	switch r {
	case RoleMinter:
		return "minter"
	case RoleApprover:
		return "approver"
	case RoleCoordinator:
		return "coordinator"
	}
	return fmt.Sprintf("role(%d)", byte(r))
}

// Rules are a currency's policy, fixed at creation. Zero values switch a
// rule off. VoucherEnd is a chain.Time; durations are whole seconds.
type Rules struct {
	_ struct{} `cbor:",toarray"`
	// HoldingCap bounds an ordinary holder's balance (0 = none). The issuer,
	// merchants and module accounts are exempt.
	HoldingCap uint64 `json:"holding_cap"`
	// ExpirySeconds is the lifetime of a minted lot (0 = never expires).
	ExpirySeconds int64 `json:"expiry_seconds"`
	// LotSeconds rounds lot expiry up to a multiple, bounding lots per
	// account (default DefaultLotSeconds when ExpirySeconds is set).
	LotSeconds int64 `json:"lot_seconds"`
	// DemurrageBP is charged (burned) per DemurragePeriod, in basis points.
	DemurrageBP     uint32 `json:"demurrage_bp"`
	DemurragePeriod int64  `json:"demurrage_period"`
	// Transfer is TransferFree or TransferMerchants.
	Transfer string `json:"transfer"`
	// Redeemable lets merchants redeem (burn for off-ledger settlement).
	Redeemable bool `json:"redeemable"`
	// Categories, when set, make the currency a purpose-restricted voucher:
	// payable only to merchants registered in one of them.
	Categories []string `json:"categories,omitempty"`
	// VoucherEnd, when set, is the time after which the currency cannot be
	// spent or minted; unspent holder balances return to the issuer.
	VoucherEnd chain.Time `json:"voucher_end,omitempty"`
	// HourlyRate is what one confirmed volunteer hour mints (0 = disabled).
	HourlyRate uint64 `json:"hourly_rate"`
	// TimeBank: amounts are minutes; one confirmed hour mints 60.
	TimeBank bool `json:"time_bank"`
}

// Currency is a denom with its issuer and rules.
type Currency struct {
	_        struct{}      `cbor:",toarray"`
	Denom    string        `json:"denom"`
	Issuer   chain.Address `json:"issuer"`
	Decimals uint8         `json:"decimals"`
	Rules    Rules         `json:"rules"`
}

// Merchant is an approved merchant of one currency.
type Merchant struct {
	_          struct{} `cbor:",toarray"`
	Categories []string `json:"categories"`
	Suspended  bool     `json:"suspended"`
	Redeemed   uint64   `json:"redeemed,string"`
}

// Settlement records a redemption to be settled off-ledger.
type Settlement struct {
	_         struct{}      `cbor:",toarray"`
	Merchant  chain.Address `json:"merchant"`
	Amount    uint64        `json:"amount,string"`
	Reference string        `json:"reference"`
	Height    uint64        `json:"height"`
	Time      int64         `json:"time"`
}

// Amount is a token amount in JSON: it reads a number or a decimal string
// and writes a string (JavaScript loses precision past 2^53).
type Amount uint64

// MarshalJSON writes the amount as a decimal string.
func (a Amount) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatUint(uint64(a), 10) + `"`), nil
}

// UnmarshalJSON reads a non-negative integer or a decimal string.
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if n := len(s); n >= 2 && s[0] == '"' && s[n-1] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = str
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("amount %s: want a non-negative integer below 2^64 (number or string)", string(b))
	}
	*a = Amount(v)
	return nil
}

func validDenom(d string) error {
	if len(d) < 2 || len(d) > 16 {
		return fmt.Errorf("%w %q: length must be 2..16", ErrBadDenom, d)
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		ok := c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '-')
		if !ok {
			return fmt.Errorf("%w %q: want [a-z][a-z0-9-]*", ErrBadDenom, d)
		}
	}
	return nil
}

func validCategories(cs []string) error {
	if len(cs) > MaxCategories {
		return fmt.Errorf("%d categories, max %d", len(cs), MaxCategories)
	}
	for i, c := range cs {
		if c == "" || len(c) > MaxCategoryLen {
			return fmt.Errorf("category %d: length must be 1..%d", i, MaxCategoryLen)
		}
		for j := 0; j < i; j++ {
			if cs[j] == c {
				return fmt.Errorf("category %q listed twice", c)
			}
		}
	}
	return nil
}

func (r *Rules) validate() error {
	switch {
	case r.ExpirySeconds < 0 || r.LotSeconds < 0 || r.VoucherEnd < 0 || r.DemurragePeriod < 0:
		return fmt.Errorf("%w: negative time", ErrBadRules)
	case r.LotSeconds != 0 && r.ExpirySeconds == 0:
		return fmt.Errorf("%w: lot_seconds without expiry_seconds", ErrBadRules)
	case r.LotSeconds > r.ExpirySeconds:
		return fmt.Errorf("%w: lot_seconds %d longer than expiry_seconds %d", ErrBadRules, r.LotSeconds, r.ExpirySeconds)
	case r.DemurrageBP > 10000:
		return fmt.Errorf("%w: demurrage_bp %d above 10000", ErrBadRules, r.DemurrageBP)
	case r.DemurrageBP > 0 && r.DemurragePeriod < MinDemurragePeriod:
		return fmt.Errorf("%w: demurrage_period must be at least %d seconds", ErrBadRules, MinDemurragePeriod)
	case r.DemurrageBP == 0 && r.DemurragePeriod != 0:
		return fmt.Errorf("%w: demurrage_period without demurrage_bp", ErrBadRules)
	case r.Transfer != TransferFree && r.Transfer != TransferMerchants:
		return fmt.Errorf("%w: transfer %q, want %q or %q", ErrBadRules, r.Transfer, TransferFree, TransferMerchants)
	case r.TimeBank && r.HourlyRate != 0:
		return fmt.Errorf("%w: time_bank credits 60 minutes per hour; hourly_rate must be 0", ErrBadRules)
	}
	if err := validCategories(r.Categories); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRules, err)
	}
	return nil
}

// lotSeconds is the effective lot granularity.
func (r *Rules) lotSeconds() int64 {
	if r.LotSeconds > 0 {
		return r.LotSeconds
	}
	if r.ExpirySeconds < DefaultLotSeconds {
		return 1
	}
	return DefaultLotSeconds
}

func (c *Currency) expires() bool { return c.Rules.ExpirySeconds > 0 }

// lotExpiry is when a lot minted at now expires: now + lifetime, rounded up
// to the lot granularity (never earlier than the policy promises).
func (c *Currency) lotExpiry(now int64) (int64, error) {
	e := now + c.Rules.ExpirySeconds
	if e < now {
		return 0, ErrOverflow
	}
	g := c.Rules.lotSeconds()
	if r := e % g; r != 0 {
		if e+(g-r) < e {
			return 0, ErrOverflow
		}
		e += g - r
	}
	return e, nil
}

func (c *Currency) ended(now chain.Time) bool {
	return c.Rules.VoucherEnd > 0 && now >= c.Rules.VoucherEnd
}

func (c *Currency) allowsCategory(cat string) bool {
	if len(c.Rules.Categories) == 0 {
		return true
	}
	return contains(c.Rules.Categories, cat)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// marker is the value of index keys whose presence is the information. It
// is one byte, not empty: the state tree cannot tell an empty value from
// an absent key, so chain/state refuses empty values.
var marker = []byte{1}
