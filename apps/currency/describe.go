package currency

import (
	"fmt"

	"github.com/dure-network/dure/chain"
)

// DefaultCLIDenom is the denom `dure tx currency send` uses when --denom is
// not given: the native denom of chains made by `dure init`.
const DefaultCLIDenom = "dure"

// Describe tells clients currency's messages and queries
// (chain.Describer); `dure tx currency` and `dure query currency` are built
// from it, including the local checks that refuse a typo before any fee
// is spent.
func (m *Module) Describe() chain.Description {
	denom := chain.Field{Name: "denom", Kind: chain.FieldString, Help: "currency denomination", Max: 64, Check: validDenom}
	amount := chain.Field{Name: "amount", Kind: chain.FieldUint, Help: "amount in the currency's smallest unit"}
	addr := func(name, help string) chain.Field {
		return chain.Field{Name: name, Kind: chain.FieldAddress, Required: true, Help: help}
	}
	role := chain.Field{Name: "role", Kind: chain.FieldEnum, Required: true, Help: `"minter", "approver" or "coordinator"`,
		Enum: []string{"minter", "approver", "coordinator", "merchant-approver"}}
	categories := func(help string) chain.Field {
		return chain.Field{Name: "categories", Kind: chain.FieldList, Help: help, Max: MaxCategories}
	}
	limit := chain.Field{Name: "limit", Kind: chain.FieldUint, Min: 1, Max: maxQueryItems, Help: fmt.Sprintf("at most this many items (max %d)", maxQueryItems)}
	qDenom := chain.Field{Name: "denom", Kind: chain.FieldString, Required: true, Help: "currency denomination"}
	qAddr := chain.Field{Name: "address", Kind: chain.FieldAddress, Required: true, Help: "account address or key name"}
	sendDenom := denom
	sendDenom.Default = DefaultCLIDenom
	return chain.Description{
		Short: "Local currencies: send, create, mint, pay merchants, vouchers, volunteer hours",
		Long: `Every rule of a currency (holding cap, expiry, demurrage, merchants-only
transfer, redeemability, categories, voucher end, hourly rate or time bank)
is fixed when it is created; see apps/currency/doc.go.`,
		Msgs: []chain.MsgDesc{
			{Type: TypeSend, Short: "Send tokens to an account",
				Examples: []string{"dure tx currency send --from alice --to dure1... --amount 100 --denom dure"},
				Fields:   []chain.Field{addr("to", "recipient"), sendDenom, amount},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgSend(c, v.Address("to"), v.String("denom"), v.Uint("amount"))
				}},
			{Type: TypeMint, Short: "Mint new units (issuer or minter role)",
				Examples: []string{"dure tx currency mint --from city --denom nw --to alice --amount 5000"},
				Fields:   []chain.Field{addr("to", "recipient"), denom, amount},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgMint(c, v.String("denom"), v.Address("to"), v.Uint("amount"))
				}},
			{Type: TypeBurn, Short: "Destroy units from your own balance",
				Examples: []string{"dure tx currency burn --from alice --denom nw --amount 100"},
				Fields:   []chain.Field{denom, amount},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgBurn(c, v.String("denom"), v.Uint("amount"))
				}},
			{Type: TypePay, Short: "Pay an approved merchant (vouchers: in an allowed category)",
				Examples: []string{"dure tx currency pay --from alice --denom food-voucher --merchant market --amount 3000 --category food"},
				Fields: []chain.Field{addr("merchant", "merchant account"),
					{Name: "category", Kind: chain.FieldString, Max: MaxCategoryLen, Help: "what is bought (must be one of the merchant's categories)"},
					denom, amount},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgPay(c, v.Address("merchant"), v.String("denom"), v.Uint("amount"), v.String("category"))
				}},
			{Type: TypeGrant, Short: "Issuer grants a role: minter, approver or coordinator",
				Examples: []string{"dure tx currency grant --from city --denom nw --role approver --account clerk"},
				Fields:   []chain.Field{role, addr("account", "who gets the role"), denom},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgGrant(c, v.String("denom"), v.String("role"), v.Address("account"))
				}},
			{Type: TypeRevoke, Short: "Issuer revokes a role",
				Examples: []string{"dure tx currency revoke --from city --denom nw --role approver --account clerk"},
				Fields:   []chain.Field{role, addr("account", "who loses the role"), denom},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgRevoke(c, v.String("denom"), v.String("role"), v.Address("account"))
				}},
			{Type: TypeRegisterMerchant, Short: "Approver registers a merchant with its categories",
				Examples: []string{"dure tx currency register-merchant --from clerk --denom nw --merchant bakery --categories food,education"},
				Fields: []chain.Field{addr("merchant", "merchant account"),
					categories("comma-separated categories, e.g. food,education,transport"), denom},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgRegisterMerchant(c, v.String("denom"), v.Address("merchant"), v.List("categories"))
				}},
			{Type: TypeSuspendMerchant, Short: "Approver suspends a merchant",
				Examples: []string{"dure tx currency suspend-merchant --from clerk --denom nw --merchant bakery"},
				Fields:   []chain.Field{addr("merchant", "merchant account"), denom},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgSuspendMerchant(c, v.String("denom"), v.Address("merchant"))
				}},
			{Type: TypeRedeem, Short: "Merchant redeems units for off-ledger settlement (burns them, keeps a record)",
				Examples: []string{"dure tx currency redeem --from bakery --denom nw --amount 10000 --reference invoice-2026-11"},
				Fields: []chain.Field{{Name: "reference", Kind: chain.FieldString, Max: MaxReferenceLen, Help: "settlement reference, e.g. an invoice number"},
					denom, amount},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgRedeem(c, v.String("denom"), v.Uint("amount"), v.String("reference"))
				}},
			{Type: TypeConfirmHours, Short: "Coordinator confirms volunteer hours; mints hours × the currency's hourly rate",
				Examples: []string{"dure tx currency confirm-hours --from center --denom nw --volunteer alice --hours 2 --minutes 30"},
				Fields: []chain.Field{addr("volunteer", "who volunteered"),
					{Name: "hours", Kind: chain.FieldUint, Bits: 32, Help: "whole hours"},
					{Name: "minutes", Kind: chain.FieldUint, Bits: 32, Max: 59, Help: "extra minutes"},
					denom},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgConfirmHours(c, v.String("denom"), v.Address("volunteer"), uint32(v.Uint("hours")), uint32(v.Uint("minutes")))
				}},
			{Type: TypeCreate, Short: "Create a local currency or voucher; you become its issuer",
				Long: `create defines a currency whose rules are configuration: a holding cap,
expiry of minted lots, demurrage, whether holders may pay each other or only
merchants, redeemability, purpose restriction (categories) with an end date,
and an hourly rate for volunteer hours or time-bank mode.`,
				Examples: []string{
					`# Seoul Nowon "NW": 700 per volunteer hour, 50,000 cap, 3-year expiry, merchants only
dure tx currency create --from city --denom nw --holding-cap 50000 --expiry 26280h \
    --transfer merchants --redeemable --hourly-rate 700`,
					`# Suwon food voucher, spendable on food until the end of 2027
dure tx currency create --from city --denom food-voucher --transfer merchants --redeemable \
    --categories food --voucher-end 2027-12-31T23:59:59Z`,
					`# A time bank: one hour given = 60 minutes of credit, transferable
dure tx currency create --from coop --denom hours --time-bank --transfer free`,
				},
				Fields: []chain.Field{
					{Name: "denom", Kind: chain.FieldString, Max: 64, Help: "new denomination, e.g. nw", Check: validDenom},
					{Name: "decimals", Kind: chain.FieldUint, Bits: 8, Max: MaxDecimals, Help: "display decimals"},
					{Name: "holding-cap", Kind: chain.FieldUint, Help: "most an ordinary holder may hold (0: no cap)"},
					{Name: "expiry", Kind: chain.FieldDuration, Help: "lifetime of minted units, e.g. 26280h for 3 years (0: never)"},
					{Name: "demurrage-bp", Kind: chain.FieldUint, Bits: 32, Help: "basis points burned per demurrage period"},
					{Name: "demurrage-period", Kind: chain.FieldDuration, Help: "demurrage period, e.g. 720h"},
					{Name: "transfer", Kind: chain.FieldEnum, Default: TransferFree, Enum: []string{TransferFree, TransferMerchants},
						Help: `"free" (holders pay each other) or "merchants" (only approved merchants)`},
					{Name: "redeemable", Kind: chain.FieldBool, Help: "merchants may redeem for off-ledger settlement"},
					categories("purpose restriction: payable only to merchants of these categories"),
					{Name: "voucher-end", Kind: chain.FieldTime, Help: "time after which units cannot be spent; the rest returns to the issuer (RFC 3339)"},
					{Name: "hourly-rate", Kind: chain.FieldUint, Help: "units minted per confirmed volunteer hour (0: disabled)"},
					{Name: "time-bank", Kind: chain.FieldBool, Help: "time bank: amounts are minutes, one confirmed hour mints 60"},
				},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					r := Rules{HoldingCap: v.Uint("holding-cap"), ExpirySeconds: v.Seconds("expiry"),
						DemurrageBP: uint32(v.Uint("demurrage-bp")), DemurragePeriod: v.Seconds("demurrage-period"),
						Transfer: v.String("transfer"), Redeemable: v.Bool("redeemable"), Categories: v.List("categories"),
						VoucherEnd: v.Time("voucher-end"), HourlyRate: v.Uint("hourly-rate"), TimeBank: v.Bool("time-bank")}
					return MsgCreate(c, v.String("denom"), uint8(v.Uint("decimals")), r)
				}},
		},
		Queries: []chain.QueryDesc{
			{Path: "balance", Short: "One balance, with its lots", Args: []chain.Field{qAddr, qDenom},
				Examples: []string{"dure query currency balance --arg address=alice --arg denom=nw"}},
			{Path: "balances", Short: "Every denom an account holds", Args: []chain.Field{qAddr, limit},
				Examples: []string{"dure query currency balances --arg address=alice"}},
			{Path: "lots", Short: "An account's lots of a denom, oldest first, with when each expires", Args: []chain.Field{qAddr, qDenom},
				Examples: []string{"dure query currency lots --arg address=alice --arg denom=nw"}},
			{Path: "supply", Short: "Total supply of a denom", Args: []chain.Field{qDenom},
				Examples: []string{"dure query currency supply --arg denom=nw"}},
			{Path: "native", Short: "The native denom (fees are paid in it)",
				Examples: []string{"dure query currency native"}},
			{Path: "currency", Short: "A currency and its rules", Args: []chain.Field{qDenom},
				Examples: []string{"dure query currency currency --arg denom=nw"}},
			{Path: "currencies", Short: "Every currency, by denom", Args: []chain.Field{limit},
				Examples: []string{"dure query currency currencies"}},
			{Path: "roles", Short: "A currency's issuer and granted roles", Args: []chain.Field{qDenom},
				Examples: []string{"dure query currency roles --arg denom=nw"}},
			{Path: "merchant", Short: "One merchant of a currency", Args: []chain.Field{qDenom, qAddr},
				Examples: []string{"dure query currency merchant --arg denom=nw --arg address=bakery"}},
			{Path: "merchants", Short: "A currency's merchants, by address", Args: []chain.Field{qDenom, limit},
				Examples: []string{"dure query currency merchants --arg denom=nw"}},
			{Path: "settlements", Short: "A currency's redemptions, oldest first", Args: []chain.Field{qDenom, limit},
				Examples: []string{"dure query currency settlements --arg denom=nw"}},
		},
	}
}
