package energy

import (
	"encoding/hex"
	"fmt"

	"github.com/dure-network/dure/chain"
)

// Describe tells clients energy's messages and queries (chain.Describer);
// `dure tx energy` and `dure query energy` are built from it.
func (m *Module) Describe() chain.Description {
	str := func(name, help string, req bool) chain.Field {
		return chain.Field{Name: name, Kind: chain.FieldString, Help: help, Required: req, Max: MaxIDLen}
	}
	u := func(name, help string) chain.Field { return chain.Field{Name: name, Kind: chain.FieldUint, Help: help} }
	addr := func(name, help string) chain.Field {
		return chain.Field{Name: name, Kind: chain.FieldAddress, Required: true, Help: help}
	}
	dur := func(name, help, def string) chain.Field {
		return chain.Field{Name: name, Kind: chain.FieldDuration, Help: help, Default: def}
	}
	interval := chain.Field{Name: "interval", Kind: chain.FieldTime, Required: true,
		Help: "interval start, on the market's grid (RFC 3339, e.g. 2026-12-02T09:00:00Z)"}
	meter := str("meter", "meter ID", true)
	market := str("market", "market ID", true)
	sig := chain.Field{Name: "sig", Kind: chain.FieldString, Max: 128, Help: "device signature, hex (or give --device-seed)"}
	seed := chain.Field{Name: "device-seed", Kind: chain.FieldString, Max: 64,
		Help: "device key seed, hex: signs the reading on this machine (gateways, demos); only the signature is sent"}
	limit := chain.Field{Name: "limit", Kind: chain.FieldUint, Min: 1, Max: maxQueryItems, Help: fmt.Sprintf("at most this many items (max %d)", maxQueryItems)}
	qInterval := chain.Field{Name: "interval", Kind: chain.FieldString, Required: true, Help: "interval start: Unix seconds or RFC 3339"}
	order := func(typ, short, priceHelp, example string) chain.MsgDesc {
		return chain.MsgDesc{Type: typ, Short: short, Examples: []string{example},
			Fields: []chain.Field{meter, interval,
				{Name: "wh", Kind: chain.FieldUint, Required: true, Min: 1, Max: MaxWhPerOrder, Help: "energy in Wh"},
				{Name: "price", Kind: chain.FieldUint, Required: true, Max: MaxPrice, Help: priceHelp}},
			Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
				b := PlaceOrder{Meter: v.String("meter"), Interval: v.Time("interval").Unix(), Wh: v.Uint("wh"), Price: v.Uint("price")}
				return encode(c, typ, b)
			}}
	}
	return chain.Description{
		Short: "Neighbourhood energy: meters, device-signed readings, interval auctions, settlement, EV charging",
		Long: `A market (region) clears sell offers and buy bids for each delivery interval
in a uniform-price double auction at gate closure, and settles every trade
against the device-signed readings of both meters; EV charging sessions
settle against the charger's signed session reading. See apps/energy/doc.go.`,
		Msgs: []chain.MsgDesc{
			{Type: TypeCreateMarket, Short: "Open a market (region); you become its creator",
				Examples: []string{`dure tx energy create-market --from city --id nowon-solar --denom nw --operator kepco \
    --fee-per-kwh 10 --retail-price 180 --feed-in-price 60 --penalty-bps 2000 --gate-lead 5m --reading-deadline 1h`},
				Fields: []chain.Field{str("id", "market ID (letters, digits, - _ .)", true),
					{Name: "denom", Kind: chain.FieldString, Required: true, Max: 64, Help: "currency the market settles in"},
					addr("operator", "grid operator: attests meters, corrects readings, receives grid fees"),
					dur("interval", "delivery interval, dividing a day", "15m"),
					dur("gate-lead", "orders for an interval close this long before it starts", "5m"),
					u("fee-per-kwh", "grid fee per kWh, paid by buyers"),
					{Name: "fee-bps", Kind: chain.FieldUint, Bits: 32, Max: 10000, Help: "grid fee in basis points of the energy value"},
					u("retail-price", "fallback price per kWh for import beyond trades"),
					u("feed-in-price", "fallback price per kWh for export beyond trades"),
					{Name: "penalty-bps", Kind: chain.FieldUint, Bits: 32, Max: 100000, Help: "penalty on an undelivered sale, basis points of its value"},
					dur("reading-deadline", "readings count until this long after an interval ends; then it settles", "1h"),
				},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgCreateMarket(c, Market{ID: v.String("id"), Denom: v.String("denom"), Operator: v.Address("operator"),
						IntervalSecs: v.Seconds("interval"), GateLeadSecs: v.Seconds("gate-lead"),
						FeePerKWh: v.Uint("fee-per-kwh"), FeeBps: uint32(v.Uint("fee-bps")),
						RetailPrice: v.Uint("retail-price"), FeedInPrice: v.Uint("feed-in-price"),
						PenaltyBps: uint32(v.Uint("penalty-bps")), ReadingDeadlineSecs: v.Seconds("reading-deadline")})
				}},
			{Type: TypeGrantOperator, Short: "Creator grants the operator role",
				Examples: []string{"dure tx energy grant-operator --from city --market nowon-solar --account kepco2"},
				Fields:   []chain.Field{market, addr("account", "new operator")},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgGrantOperator(c, v.String("market"), v.Address("account"))
				}},
			{Type: TypeRevokeOperator, Short: "Creator revokes the operator role",
				Examples: []string{"dure tx energy revoke-operator --from city --market nowon-solar --account kepco2"},
				Fields:   []chain.Field{market, addr("account", "operator to remove")},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgRevokeOperator(c, v.String("market"), v.Address("account"))
				}},
			{Type: TypeRegisterMeter, Short: "Register your meter with its device key and kind",
				Examples: []string{"dure tx energy register-meter --from dave --id roof-7 --market nowon-solar --kind prosumer --device-key 3b6a27bc…"},
				Fields: []chain.Field{str("id", "meter ID", true), market,
					{Name: "device-key", Kind: chain.FieldString, Required: true, Max: 64, Help: "device ed25519 public key, 64 hex digits"},
					{Name: "kind", Kind: chain.FieldEnum, Required: true, Enum: Kinds(), Help: "what the meter measures"},
					u("tariff", "ev-charger only: price per kWh for charging sessions")},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					var pk chain.PubKey
					if err := pk.UnmarshalText([]byte(v.String("device-key"))); err != nil {
						return chain.Msg{}, fmt.Errorf("%w: --device-key: %v", chain.ErrInvalidMsg, err)
					}
					return MsgRegisterMeter(c, v.String("id"), v.String("market"), pk, v.String("kind"), v.Uint("tariff"))
				}},
			{Type: TypeAttestMeter, Short: "Operator attests a meter (it may then read and trade)",
				Examples: []string{"dure tx energy attest-meter --from kepco --meter roof-7"},
				Fields:   []chain.Field{meter},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgAttestMeter(c, v.String("meter"))
				}},
			{Type: TypeSuspendMeter, Short: "Operator suspends a meter (--lift reinstates it)",
				Examples: []string{"dure tx energy suspend-meter --from kepco --meter roof-7"},
				Fields:   []chain.Field{meter, {Name: "lift", Kind: chain.FieldBool, Help: "reinstate instead"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgSuspendMeter(c, v.String("meter"), v.Bool("lift"))
				}},
			{Type: TypeSubmitReadings, Short: "Submit a device-signed interval reading (gateways batch many per message)",
				Examples: []string{`dure tx energy submit-readings --from gw --meter roof-7 --interval 2026-12-02T09:00:00Z --counter 1 \
    --start-import 0 --end-import 0 --start-export 0 --end-export 800 --device-seed 9d61b19d…`},
				Fields: []chain.Field{meter, interval,
					{Name: "counter", Kind: chain.FieldUint, Required: true, Help: "device pagination counter, one more than the last"},
					u("start-import", "import register at the interval's start, Wh"), u("end-import", "import register at its end, Wh"),
					u("start-export", "export register at the interval's start, Wh"), u("end-export", "export register at its end, Wh"),
					{Name: "estimated", Kind: chain.FieldBool, Help: "the device estimated rather than metered"},
					sig, seed},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					r := Reading{Meter: v.String("meter"), IntervalStart: v.Time("interval").Unix(), Counter: v.Uint("counter"),
						StartImportWh: v.Uint("start-import"), EndImportWh: v.Uint("end-import"),
						StartExportWh: v.Uint("start-export"), EndExportWh: v.Uint("end-export")}
					if v.Bool("estimated") {
						r.Flag = FlagEstimated
					}
					s, err := deviceSig(c, v, r.SignBytes)
					if err != nil {
						return chain.Msg{}, err
					}
					r.Sig = s
					return MsgSubmitReadings(c, []Reading{r})
				}},
			{Type: TypeCorrectReading, Short: "Operator corrects a meter's latest reading before the interval settles",
				Examples: []string{"dure tx energy correct-reading --from kepco --meter roof-7 --interval 2026-12-02T09:00:00Z --export-wh 700 --reason \"inverter clock drift\""},
				Fields: []chain.Field{meter, interval, u("import-wh", "corrected import in the interval, Wh"),
					u("export-wh", "corrected export in the interval, Wh"),
					{Name: "reason", Kind: chain.FieldString, Max: MaxReasonLen, Help: "why (recorded in the event)"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgCorrectReading(c, v.String("meter"), v.Time("interval").Unix(), v.Uint("import-wh"), v.Uint("export-wh"), v.String("reason"))
				}},
			order(TypeOffer, "Offer energy for an interval at a minimum price per kWh", "minimum price per kWh",
				"dure tx energy offer --from dave --meter roof-7 --interval 2026-12-02T12:00:00Z --wh 800 --price 90"),
			order(TypeBid, "Bid for energy for an interval at a maximum price per kWh, grid fee included (escrowed)",
				"maximum price per kWh including the grid fee",
				"dure tx energy bid --from erin --meter flat-3 --interval 2026-12-02T12:00:00Z --wh 500 --price 150"),
			{Type: TypeCancel, Short: "Cancel your order before gate closure (a bid's escrow returns)",
				Examples: []string{"dure tx energy cancel --from erin --order 12"},
				Fields:   []chain.Field{{Name: "order", Kind: chain.FieldUint, Required: true, Min: 1, Help: "order ID"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgCancel(c, v.Uint("order"))
				}},
			{Type: TypeStartSession, Short: "Start an EV charging session at a charger (escrows max energy at its tariff + fee)",
				Examples: []string{"dure tx energy start-session --from erin --charger ev-1 --max-wh 20000 --max-price 250"},
				Fields: []chain.Field{str("charger", "charger meter ID", true),
					{Name: "max-wh", Kind: chain.FieldUint, Required: true, Min: 1, Max: MaxWhPerOrder, Help: "most energy to pay for, Wh"},
					{Name: "max-price", Kind: chain.FieldUint, Required: true, Max: MaxPrice, Help: "most per kWh, grid fee included"},
					{Name: "deadline", Kind: chain.FieldTime, Help: "when the session must have ended (default: a day)"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgStartSession(c, v.String("charger"), v.Uint("max-wh"), v.Uint("max-price"), v.Time("deadline").Unix())
				}},
			{Type: TypeEndSession, Short: "Submit the charger's signed session reading; settles the session",
				Examples: []string{"dure tx energy end-session --from gw --session 14 --charger ev-1 --counter 3 --start-wh 1000 --stop-wh 13500 --device-seed …"},
				Fields: []chain.Field{{Name: "session", Kind: chain.FieldUint, Required: true, Min: 1, Help: "session ID"},
					str("charger", "charger meter ID", true),
					{Name: "counter", Kind: chain.FieldUint, Required: true, Help: "device pagination counter"},
					u("start-wh", "import register at the session's start, Wh"), u("stop-wh", "import register at its stop, Wh"),
					sig, seed},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					r := SessionReading{Session: v.Uint("session"), Charger: v.String("charger"), Counter: v.Uint("counter"),
						StartWh: v.Uint("start-wh"), StopWh: v.Uint("stop-wh")}
					s, err := deviceSig(c, v, r.SignBytes)
					if err != nil {
						return chain.Msg{}, err
					}
					r.Sig = s
					return MsgEndSession(c, r)
				}},
		},
		Queries: []chain.QueryDesc{
			{Path: "market", Short: "A market and its parameters", Args: []chain.Field{str("id", "market ID", true)},
				Examples: []string{"dure query energy market --arg id=nowon-solar"}},
			{Path: "markets", Short: "Every market", Args: []chain.Field{limit},
				Examples: []string{"dure query energy markets"}},
			{Path: "operators", Short: "A market's creator and operators", Args: []chain.Field{market, limit},
				Examples: []string{"dure query energy operators --arg market=nowon-solar"}},
			{Path: "meter", Short: "A meter: owner, kind, attestation, last reading", Args: []chain.Field{str("id", "meter ID", true)},
				Examples: []string{"dure query energy meter --arg id=roof-7"}},
			{Path: "meters", Short: "Meters, by ID (of one market)", Args: []chain.Field{str("market", "market ID", false), limit},
				Examples: []string{"dure query energy meters --arg market=nowon-solar"}},
			{Path: "reading", Short: "A meter's reading of one interval", Args: []chain.Field{meter, qInterval},
				Examples: []string{"dure query energy reading --arg meter=roof-7 --arg interval=2026-12-02T12:00:00Z"}},
			{Path: "readings", Short: "A meter's readings, oldest first", Args: []chain.Field{meter, limit},
				Examples: []string{"dure query energy readings --arg meter=roof-7"}},
			{Path: "book", Short: "The order book of an interval, with its clearing once closed", Args: []chain.Field{market, qInterval, limit},
				Examples: []string{"dure query energy book --arg market=nowon-solar --arg interval=2026-12-02T12:00:00Z"}},
			{Path: "order", Short: "One order", Args: []chain.Field{{Name: "id", Kind: chain.FieldUint, Required: true, Help: "order ID"}},
				Examples: []string{"dure query energy order --arg id=12"}},
			{Path: "clearing", Short: "An interval's clearing price, volume and trades", Args: []chain.Field{market, qInterval, limit},
				Examples: []string{"dure query energy clearing --arg market=nowon-solar --arg interval=2026-12-02T12:00:00Z"}},
			{Path: "statement", Short: "A meter's settlement statement for one interval", Args: []chain.Field{meter, qInterval},
				Examples: []string{"dure query energy statement --arg meter=flat-3 --arg interval=2026-12-02T12:00:00Z"}},
			{Path: "statements", Short: "A meter's statements, oldest first", Args: []chain.Field{meter, limit},
				Examples: []string{"dure query energy statements --arg meter=flat-3"}},
			{Path: "session", Short: "An EV charging session", Args: []chain.Field{{Name: "id", Kind: chain.FieldUint, Required: true, Help: "session ID"}},
				Examples: []string{"dure query energy session --arg id=14"}},
		},
	}
}

// deviceSig is --sig, or a signature made here from --device-seed.
func deviceSig(c *chain.Codec, v chain.Values, signBytes func(*chain.Codec) ([]byte, error)) ([]byte, error) {
	if s := v.String("sig"); s != "" {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != chain.SigLen {
			return nil, fmt.Errorf("%w: --sig: want %d bytes of hex", chain.ErrInvalidMsg, chain.SigLen)
		}
		return b, nil
	}
	seed, err := hex.DecodeString(v.String("device-seed"))
	if err != nil || len(seed) != 32 {
		return nil, fmt.Errorf("%w: give --sig or a 32-byte hex --device-seed", chain.ErrInvalidMsg)
	}
	key, err := chain.PrivKeyFromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("%w: --device-seed: %v", chain.ErrInvalidMsg, err)
	}
	msg, err := signBytes(c)
	if err != nil {
		return nil, err
	}
	return key.Sign(msg), nil
}
