// Package royalty is the dure module for creator royalties: works
// registered by their creators, exact splits of their income among share
// holders, recoupment waterfalls, platforms' usage reports settled on
// chain, and shares that can be given, sold and auctioned — paid in any
// local currency through the Bank it declares (apps/currency).
//
// # Construction and the node's duties
//
//	m := royalty.New(chain.NewStoreKey("royalty"), codec, currencyModule)
//
// The node registers it after currency (one line in node/app.go). Its pool
// account, PoolAccount(), is declared through chain.ModuleAccountHolder,
// so the bank exempts it from holding caps and transfer policies: every
// payment, escrow and sale passes through it, which also lets royalties be
// paid in merchants-only currencies. EndBlock applies due terms changes.
//
// # Model
//
//   - A split is a share register of exactly TotalUnits = 1,000,000 units
//     (parts per million). Holders are accounts or, nested, other splits
//     (at most MaxNested per split, MaxDepth levels, MaxTreeNodes splits
//     reached by one payment). A nested split must exist before the split
//     holding it, and split holdings never change, so cycles cannot form.
//   - A work (register) has a metadata CID, optional ISRC (KRA012600001)
//     and ISWC (T0345246801, check digit verified), the currencies it is
//     paid in, and its own split, whose id is the work's id. An optional
//     waterfall lists tranches with absolute cumulative thresholds in the
//     work's one currency; income fills them in order and the last takes
//     the rest. Each tranche is a split (an account tranche gets its own
//     "<work>/t<i>" split).
//   - Terms: the resale royalty (creator's cut of every share sale, per
//     work) and the platform fee (the operator's cut of every sale and
//     auction, registry-wide) change only by proposal, take effect after
//     Registry.TimelockSeconds (EndBlock), may rise by at most
//     MaxIncreaseBps per change — counted from the value in effect, and a
//     new proposal replaces the pending one, so proposals cannot stack: at
//     most one step per timelock — and never above their maxima. The waterfall and the splits are fixed at registration.
//
// # Exact payments at a cost independent of the number of holders
//
// A payment x to a split adds x to the split's Pool.Paid for that denom.
// A holding of u units is entitled to exactly u·Paid/1,000,000: when it is
// settled (on transfer, sale, claim — or in a query) it earns
// (u·ΔPaid + carried) / 1,000,000 whole units and carries the remainder, in
// millionths, to its next settlement; 128-bit products (math/bits) never
// overflow. So a payment touches a fixed number of records however many
// holders there are, holders claim when they like, and nothing is rounded
// away: for each split and denom, at every height,
//
//	Paid·10^6 = Σ accounts ((claimed + claimable)·10^6 + u·(Paid−Mark) + carried)
//	          + Σ nested  (paid_to_nested·10^6 + carried)
//
// The carried remainders sum to less than one unit per holder and are
// paid as they become whole; a holder giving away its last unit hands its
// remainder to the receiver. Nested splits are settled eagerly in the same
// payment (bounded by MaxTreeNodes). Every split a payment reaches emits a
// royalty.credit event with its amount (every waterfall tranche a
// royalty.tranche event), so each payment's division is on record; what a
// split does not pass to nested splits is its account holders'. Divisions that are one-off rather
// than accumulated — a sale's price into platform fee, royalty and the
// seller's part; an auction's proceeds — use the largest-remainder method
// with ties to the lower index, so the parts sum exactly to the amount.
//
// # Usage reports
//
// Platforms (granted by the registry's operator; in an open registry with
// no operator, an account registers itself) submit a report — id, period,
// denom, lines of (work, territory, units, amount) — and pay it in the same
// transaction. Lines are summed per work in work order and each work is
// paid once through its terms. A report id is refused if the platform used
// it before. A report that supersedes an earlier one (same period and
// denom) pays only what it adds per work; what it removes becomes the
// platform's credit for that work, used before money in its next reports.
// Every split credited records its per-period total and the height of the
// period's first credit, from which the statement query gives a holder's
// part at its current holding — exact, and marked so, when the holding's
// units have not changed since that height.
//
// # Shares
//
// transfer gives units (both holdings settled first). sell locks units in
// an order at a price per unit; buy pays the price into the pool, from
// which the platform fee, the creator's resale royalty and the seller's
// part are paid — there is no way to trade a work's shares on chain
// without them. open-auction (the work's creator, its own units) takes
// escrowed bids until its end; close-auction (anyone) fills bids from the
// highest price, earlier bids first at equal prices, at one clearing price
// (the lowest filled bid's), refunds the rest of the escrow, and pays the
// proceeds: the platform fee, then any unfilled recoupment tranche, the
// rest to the seller.
//
// # Messages
//
// Module "royalty"; bodies are canonical CBOR arrays (use the Msg*
// constructors): create-split, register, pay, claim, transfer,
// propose-terms, propose-fee, grant-platform, revoke-platform, report,
// sell, buy, cancel-order, open-auction, bid, close-auction. Describe
// gives each one's fields for `dure tx royalty <msg>`; Query lists the
// read paths for `dure query royalty <path>`.
//
// # State layout
//
//	P                                Registry
//	w/<work>                         Work           k/<creator><work>  by creator
//	s/<split>                        Split          h/<len><split><addr> Holding
//	p/<len><split><denom>            Pool           e/<len><split><len><denom><period> u64
//	f/<addr>                         Platform       r/<addr><report>   Report
//	c/<addr><len><work><denom>       u64 credit     q/<at><len><work>  due terms ("" = fee)
//	O, o/<id>                        orders         A, a/<id>, b/<id><seq> auctions and bids
//
// # Determinism
//
// Integer arithmetic only; no map is iterated; the only clock is the block
// time (blockTime); lists are processed in stored or sorted order.
package royalty
