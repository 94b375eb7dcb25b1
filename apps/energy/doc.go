// Package energy is dure's neighbourhood energy market: prosumers sell
// rooftop solar to neighbours, interval by interval, and EV drivers pay
// for charging, all settled on-chain in a local currency against
// device-signed meter readings.
//
// energy reaches balances only through Bank, the two-method interface it
// declares (Transfer, Balance) and the currency module satisfies; the
// node passes currency in (node/app.go). Escrow is EscrowAccount, which
// energy declares as a module account (chain.ModuleAccountHolder), so
// currencies with holding caps or merchants-only transfer still work. The
// module also holds chain.EndBlocker (clearing, settlement, session
// expiry), chain.GenesisExporter (snapshot form) and chain.Describer.
//
// # Markets, operators, meters
//
// A market is a region (create-market). Its creator fixes the parameters:
// the currency denom it settles in, the delivery interval (default 15
// minutes of block time; intervals start at multiples of it since the Unix
// epoch), the gate-closure lead, the grid fee (per kWh and/or basis points
// of the energy value, paid by buyers to the market's operator), the
// fallback retail and feed-in prices, the penalty rate and the reading
// deadline. The creator grants and revokes the operator role (the local
// grid operator); the fee recipient is the operator named at creation.
//
// An owner registers a meter with its device ed25519 key and a kind
// (producer, consumer, prosumer, battery, ev-charger). An operator attests
// it; only attested, unsuspended meters may submit readings, trade or host
// charging sessions. A suspended meter's orders already in a book still
// clear, but its readings are refused, so its trades settle by the
// missing-reading rule. Producers, prosumers and batteries may sell;
// consumers, prosumers, batteries and chargers may buy; a meter trades on
// one side per interval.
//
// # Readings
//
// A device signs, behind the domain "dure/energy/reading/v1", the canonical
// CBOR of (meter, interval start, counter, import and export registers in
// Wh at the interval's start and end, METERED or ESTIMATED). Anyone (a
// gateway) submits readings, up to 500 per message (a tx is at most
// 64 KiB); all signatures of a message are verified in one ed25519 batch
// (ZIP-215, like every signature on the chain). The chain refuses: an unregistered, unattested or
// suspended meter; a bad signature; an interval off the market's grid or
// not yet ended; a second reading of an interval (duplicate); a counter
// that does not grow by exactly one (replay or gap); registers that go
// backwards within the reading or against the meter's last reading. The
// interval's energy is end minus start. An operator may correct the
// energy of a meter's latest reading until the interval's reading
// deadline (no more than the registers moved since the reading before),
// with an energy.reading_corrected event holding the old and new values.
//
// # Orders and clearing
//
// A meter's owner offers (Wh, minimum price per kWh) or bids (Wh, maximum
// price per kWh including the grid fee) for a delivery interval T until
// the gate closes at T - gate lead, at most a week ahead, at most
// MaxOrdersPerMeter per meter and interval. A bid escrows
// ceil(Wh × price / 1000) through the Bank into EscrowAccount; cancel
// before the gate refunds it.
//
// In the first EndBlock at or after the gate, the interval clears in a
// uniform-price double auction (pay-as-clear). A bid's net price is the
// highest energy price p with p + FeePerKWh + p × FeeBps / 10000 at most
// its limit. Asks sorted by (price, order ID) ascending and bids by (net
// price descending, order ID ascending) are filled pairwise, partially
// where quantities differ, while the ask is at most the bid's net price:
// the traded volume is the largest the two curves allow. The clearing
// price P is the midpoint of the last filled ask and net bid, rounded
// down, so every filled seller gets at least its ask and every filled
// buyer pays at most its limit, fees included. Amounts are integers: a
// trade of q Wh costs floor(q×P/1000) plus a fee of floor(q×FeePerKWh/1000)
// + floor(value×FeeBps/10000); buyers' payments equal sellers' receipts
// plus fees exactly. A bid's escrow above the cost of its fills is
// refunded in the same EndBlock. Work is bounded: a book holds at most
// Params.MaxOrdersPerInterval orders; a block clears and settles at most
// Params.MaxIntervalsPerBlock intervals and Params.MaxWorkPerBlock orders
// plus trades (one interval larger than that alone), oldest first; the
// rest follow in the next blocks in the same order.
//
// # Settlement
//
// An interval with trades settles in the first EndBlock at or after
// T + interval + reading deadline, from the readings present then. A
// meter's measured export (seller) or import (buyer) is allocated to its
// trades pro rata to the traded Wh, rounded down, when it falls short of
// their total. Each trade delivers min(traded, seller's allocation,
// buyer's allocation); the seller is paid its value at P, the operator
// its fee, the rest of the trade's cost returns to the buyer. A seller
// whose allocation falls short of a trade pays PenaltyBps of the
// shortfall's value to the buyer, at most what it holds. A missing reading
// counts against the side that did not report: a seller without one
// exported nothing, a buyer without one imported all it bought. Energy
// beyond the delivered trades is recorded in each meter's statement at
// the feed-in and retail prices (the retailer settles it off-chain).
// Every payment is a Bank transfer with an energy.payment event, summed
// per payee for an interval (each trade keeps its own amounts); one the
// currency refuses in EndBlock (for example a voucher past its end) leaves
// the funds where they were, with energy.payment_failed.
//
// # EV charging
//
// start-session is a standing bid at a charger meter: up to MaxWh at the
// charger's tariff (set at registration), accepted if tariff plus grid
// fee is within the driver's MaxPrice; it escrows the cost of MaxWh. The
// charger signs (domain "dure/energy/session/v1") the session ID, its
// counter and the start and stop import registers; end-session with that
// reading pays min(stop - start, MaxWh) at the tariff plus the fee and
// refunds the rest. A session with no reading by its deadline plus the
// reading deadline is refunded in full.
//
// # Determinism
//
// Integer arithmetic only, with checked helpers (math/bits); time only from
// the block (blockTime); maps are used for look-ups only, every loop that
// writes runs over sorted keys or slices; no goroutines, no I/O.
//
// # State layout (the module's own store)
//
//	k/<market>                                 Market
//	o/<len><market><addr20>                    operator marker
//	m/<meter>                                  Meter (with its last reading's registers)
//	r/<len><meter><interval>                   StoredReading
//	b/<len><market><interval><order id>        Order (the book; kept after clearing)
//	i/<order id>                               where the order lives
//	s/<len><meter><interval>                   side and open orders of a meter
//	n/<len><market><interval>                  orders in the book
//	g/<gate time><interval><market>            clearing queue
//	d/<settle time><interval><market>          settlement queue
//	c/<len><market><interval>                  Clearing
//	t/<len><market><interval><page u32>        TradePage (256 trades)
//	a/<len><meter><interval>                   Statement
//	e/<session id>, f/<expiry><session id>     Session and its expiry queue
//	q                                          last order / session ID
//
// Queries (dure query energy …): market, markets, operators, meter, meters,
// reading, readings, book, order, clearing, statement, statements, session;
// each answer is computed from the values read, so the CLI recomputes it
// over values proven against the block's state root.
package energy
