// Package currency is the dure module for the native token and any number
// of local currencies: issuers and roles, approved merchants,
// purpose-restricted vouchers, expiring lots, holding caps, demurrage,
// volunteer-hour and time-bank credits. Every policy is configuration
// (Rules), not code: Seoul Nowon's "NW" is
//
//	Rules{HoldingCap: 50000, ExpirySeconds: 3*365*86400, HourlyRate: 700,
//	      Transfer: "merchants", Redeemable: true}
//
// and a Suwon food voucher is
//
//	Rules{Transfer: "merchants", Categories: []string{"food"},
//	      VoucherEnd: chain.TimeOf(end), Redeemable: true}
//
// # Use
//
// The node builds it explicitly in its module registry:
// New(chain.NewStoreKey("currency"), codec, DefaultParams()). The executor
// finds its capabilities on the value: chain.FeeCharger, chain.EndBlocker,
// chain.AccountReporter (the API's balances), chain.GenesisExporter
// (snapshot form) and chain.Describer (`dure tx currency`, `dure query
// currency`). Module accounts are Params.ModuleAccounts plus every account
// another module declares (chain.ModuleAccountHolder, seen through
// ctx.IsModuleAccount). Other modules declare the
// narrow interface they need and receive *Module, which has
//
//	Balance(ctx, addr, denom) (uint64, error)
//	Transfer(ctx, from, to, denom, amount) error
//	Mint(ctx, to, denom, amount) error
//	Burn(ctx, from, denom, amount) error
//	Supply(ctx, denom) (uint64, error)
//
// Balance applies due expiry and demurrage before answering (it may write);
// Transfer obeys the same rules as send. Module accounts come from
// ModuleAddress(name); FeeCollector() =
// ModuleAddress("currency/fees") receives fees. Module accounts listed in
// Params are exempt from holding caps and transfer policies (escrow).
//
// # Messages
//
// Module "currency"; bodies are canonical CBOR arrays (build them with the
// Msg* constructors). Addresses are 20-byte byte strings, amounts uint64.
//
//	send              [to, denom, amount]
//	create            [denom, decimals, rules]        sender becomes issuer
//	mint              [denom, to, amount]             minter
//	burn              [denom, amount]                 own balance
//	grant, revoke     [denom, role, account]          issuer; role "minter"|"approver"|"coordinator"
//	register-merchant [denom, merchant, [categories]] approver; also reinstates
//	suspend-merchant  [denom, merchant]               approver
//	pay               [merchant, denom, amount, category]
//	redeem            [denom, amount, reference]      merchant; burns, records a settlement
//	confirm-hours     [denom, volunteer, hours, minutes] coordinator
//
// Send and pay bodies that are canonical with ASCII strings are read by a
// small reflection-free decoder (fastbody.go); every other body goes to
// the codec, so the accepted bodies, values and errors are the codec's
// (FuzzFastBodies).
//
// rules = [holding_cap, expiry_seconds, lot_seconds, demurrage_bp,
// demurrage_period, transfer, redeemable, categories, voucher_end,
// hourly_rate, time_bank]. The issuer holds every role implicitly.
//
// # Rules
//
//   - Amounts are integers; every addition is overflow-checked (ErrOverflow).
//   - Holding cap: a transfer or mint that would lift an ordinary holder
//     above the cap is rejected (ErrCapExceeded) — volunteer hours too: we
//     reject rather than mint up to the cap, so no credit is silently lost
//     and the coordinator sees why. Issuer, merchants, module accounts exempt.
//   - Transfer "merchants" (or any category list): holders may only send to
//     active merchants (or back to the issuer); the issuer may send to
//     anyone (distribution). Merchants do not pay holders: they redeem or
//     send back to the issuer. Otherwise ErrTransferNotAllowed. Module
//     accounts (Params.ModuleAccounts and declared ones) may send and receive freely, and a
//     release from a module account is not cap-checked.
//   - Merchants: pay/send to an unregistered one fails ErrNotMerchant, to a
//     suspended one ErrMerchantSuspended. With categories, the merchant must
//     be registered in an allowed one, and pay's category (if given) must be
//     both the merchant's and allowed (ErrCategoryNotAllowed).
//   - Vouchers: from VoucherEnd on, send, pay, mint and confirm-hours fail
//     (ErrVoucherEnded); EndBlock returns ordinary holders' balances to the
//     issuer; merchants keep theirs and may still redeem.
//   - Expiry: minted amounts are lots expiring at mint time +
//     ExpirySeconds, rounded up to LotSeconds (default one day), so an
//     account holds at most ExpirySeconds/LotSeconds lots. Transfers keep a
//     lot's expiry; spending takes the oldest lots first. Expired lots are
//     burned (supply falls) when the account is next used, and by EndBlock.
//   - Demurrage: DemurrageBP per DemurragePeriod is burned from the balance
//     (oldest lots first), charged lazily when the account is next used,
//     compounding per period, rounding the charge down.
//   - Volunteer hours: hours*HourlyRate + minutes*HourlyRate/60 (rounded
//     down). Time bank: amounts are minutes; hours*60+minutes, 1 hour given
//     = 1 hour credit; transfers follow Transfer (use "free" for members).
//   - Fees: ChargeFee moves the native denom to FeeCollector().
//
// EndBlock does bounded work: at most Params.MaxExpiryPerBlock queue items
// (lot expiries in (time, address, denom) order, then voucher holders); the
// rest continue next block. An account with many due lots has them all
// burned when reached (bounded by its lot count).
//
// # State layout (keys inside the module's store)
//
//	n                                     native denom
//	c/<denom>                             Currency (CBOR)
//	s/<denom>                             supply, u64 BE
//	b/<addr20><denom>                     balance, u64 BE [+ demurrage-since i64 BE]
//	h/<len><denom><addr20>                {} holder index (voucher sweep)
//	l/<len><denom><addr20><exp u64 BE>    lot amount, u64 BE (expiring currencies only)
//	q/<exp u64 BE><addr20><denom>         {} lot expiry queue
//	v/<end u64 BE><denom>                 {} voucher end queue
//	r/<len><denom><role byte><addr20>     {} role grant ('m','a','c')
//	m/<len><denom><addr20>                Merchant (CBOR)
//	S/<denom>                             next settlement sequence, u64 BE
//	d/<len><denom><seq u64 BE>            Settlement (CBOR)
//
// <len> is one byte, the denom's length, so one denom's keys are never a
// prefix of another's. Lot expiries, demurrage and settlement times are
// block-time Unix seconds (chain.Time.Unix()); voucher ends (in Rules and
// in v/) are chain.Time, Unix nanoseconds. Invariant:
// s/<denom> equals the sum of b/…<denom>, and for expiring currencies each
// balance equals the sum of its lots.
//
// Decoded Currency and Merchant records are kept by the Module (at most
// 4,096, recordcache.go) next to the bytes they came from: every read
// still goes to state (and pays its gas), and a record is decoded again
// whenever those bytes differ, so the cache changes the CPU cost of a
// transfer, never its result. Callers get copies.
//
// # Genesis
//
//	{"native_denom": "dure",
//	 "currencies": [{"denom": "nw", "issuer": "dure1…", "decimals": 0, "rules": {…}}],
//	 "balances":   [{"address": "dure1…", "denom": "dure", "amount": "1000"}],
//	 "roles":      [{"denom": "nw", "role": "coordinator", "address": "dure1…"}],
//	 "merchants":  [{"denom": "nw", "address": "dure1…", "categories": ["food"]}]}
//
// Amounts are accepted as JSON numbers or decimal strings and written as
// strings. Rules use the JSON names of Rules' fields.
//
// # Queries
//
// See Module.Query: balance, balances, lots, supply, native, currency,
// currencies, roles, merchant, merchants, settlements.
package currency
