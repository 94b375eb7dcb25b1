package royalty

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dure-network/dure/chain"
)

// parseHolders reads "dure1…:units" and "split:<id>:units" items.
func parseHolders(items []string) ([]Holder, error) {
	out := make([]Holder, 0, len(items))
	for _, it := range items {
		i := strings.LastIndexByte(it, ':')
		if i < 0 {
			return nil, fmt.Errorf("%w: holder %q: want dure1…:units or split:<id>:units", chain.ErrInvalidMsg, it)
		}
		n, err := strconv.ParseUint(it[i+1:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: holder %q: units %q", chain.ErrInvalidMsg, it, it[i+1:])
		}
		who := it[:i]
		if id, ok := strings.CutPrefix(who, "split:"); ok {
			out = append(out, Holder{Split: id, Units: n})
			continue
		}
		a, err := chain.ParseAddress(who)
		if err != nil {
			return nil, fmt.Errorf("%w: holder %q: %v", chain.ErrInvalidMsg, it, err)
		}
		out = append(out, Holder{Account: a, Units: n})
	}
	return out, nil
}

// parseWaterfall reads "dure1…:threshold" and "split:<id>:threshold"
// items; the last item's threshold is "rest" (or 0).
func parseWaterfall(items []string) ([]Tranche, error) {
	out := make([]Tranche, 0, len(items))
	for _, it := range items {
		i := strings.LastIndexByte(it, ':')
		if i < 0 {
			return nil, fmt.Errorf("%w: tranche %q: want dure1…:threshold or split:<id>:rest", chain.ErrInvalidMsg, it)
		}
		var n uint64
		if t := it[i+1:]; t != "rest" {
			var err error
			if n, err = strconv.ParseUint(t, 10, 64); err != nil {
				return nil, fmt.Errorf("%w: tranche %q: threshold %q", chain.ErrInvalidMsg, it, t)
			}
		}
		who := it[:i]
		if id, ok := strings.CutPrefix(who, "split:"); ok {
			out = append(out, Tranche{Split: id, Threshold: n})
			continue
		}
		a, err := chain.ParseAddress(who)
		if err != nil {
			return nil, fmt.Errorf("%w: tranche %q: %v", chain.ErrInvalidMsg, it, err)
		}
		out = append(out, Tranche{Account: a, Threshold: n})
	}
	return out, nil
}

// parseLines reads "work:territory:units:amount" items.
func parseLines(items []string) ([]ReportLine, error) {
	out := make([]ReportLine, 0, len(items))
	for _, it := range items {
		f := strings.Split(it, ":")
		if len(f) != 4 {
			return nil, fmt.Errorf("%w: line %q: want work:territory:units:amount", chain.ErrInvalidMsg, it)
		}
		u, err1 := strconv.ParseUint(f[2], 10, 64)
		a, err2 := strconv.ParseUint(f[3], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: line %q: units and amount are whole numbers", chain.ErrInvalidMsg, it)
		}
		out = append(out, ReportLine{Work: f[0], Territory: f[1], Units: u, Amount: a})
	}
	return out, nil
}

// Local checks of raw CLI values, so a typo is refused before any fee.
func checkID(raw string) error    { return validID(raw, false) }
func checkRef(raw string) error   { return validID(raw, true) }
func checkDenom(raw string) error { return validDenom(raw) }
func checkDenoms(raw string) error {
	for _, d := range strings.Split(raw, ",") {
		if err := validDenom(d); err != nil {
			return err
		}
	}
	return nil
}
func checkHolders(raw string) error {
	hs, err := parseHolders(strings.Split(raw, ","))
	if err != nil {
		return err
	}
	var sum uint64
	for _, h := range hs {
		if h.Split != "" {
			if err := validID(h.Split, true); err != nil {
				return err
			}
		}
		if h.Units == 0 || h.Units > TotalUnits {
			return fmt.Errorf("%w: %d units, want 1 to %d", ErrBadSplit, h.Units, TotalUnits)
		}
		sum += h.Units
	}
	if sum != TotalUnits {
		return fmt.Errorf("%w: units sum to %d, want exactly %d", ErrBadSplit, sum, TotalUnits)
	}
	return nil
}
func checkWaterfall(raw string) error {
	_, err := parseWaterfall(strings.Split(raw, ","))
	return err
}
func checkLines(raw string) error {
	ls, err := parseLines(strings.Split(raw, ","))
	if err != nil {
		return err
	}
	for _, l := range ls {
		if err := validID(l.Work, false); err != nil {
			return err
		}
		if err := validTerritory(l.Territory); err != nil {
			return err
		}
	}
	return nil
}
func checkISRC(raw string) error { return validISRC(raw) }
func checkISWC(raw string) error { return validISWC(raw) }
func checkCID(raw string) error  { return validCID(raw) }
func checkPeriod(raw string) error {
	return validPeriod(raw)
}

// Describe tells clients royalty's messages and queries (chain.Describer);
// `dure tx royalty` and `dure query royalty` are built from it.
func (m *Module) Describe() chain.Description {
	str := func(name, help string, max uint64, req bool) chain.Field {
		return chain.Field{Name: name, Kind: chain.FieldString, Help: help, Max: max, Required: req}
	}
	uint := func(name, help string, req bool) chain.Field {
		return chain.Field{Name: name, Kind: chain.FieldUint, Help: help, Required: req}
	}
	bps := func(name, help string) chain.Field {
		return chain.Field{Name: name, Kind: chain.FieldUint, Bits: 32, Max: BpsScale, Help: help}
	}
	addr := func(name, help string) chain.Field {
		return chain.Field{Name: name, Kind: chain.FieldAddress, Required: true, Help: help}
	}
	denom := str("denom", "currency denomination, e.g. nw", 64, true)
	denom.Check = checkDenom
	holders := chain.Field{Name: "holders", Kind: chain.FieldList, Required: true, Max: MaxEntries, Check: checkHolders,
		Help: "comma-separated dure1…:units or split:<id>:units, units summing to 1000000"}
	id := func(help string) chain.Field {
		f := str("id", help, MaxIDLen, true)
		f.Check = checkID
		return f
	}
	ref := func(name, help string) chain.Field {
		f := str(name, help, MaxIDLen, true)
		f.Check = checkRef
		return f
	}
	qs := func(name, help string) chain.Field { return str(name, help, 0, true) }
	qa := chain.Field{Name: "address", Kind: chain.FieldAddress, Required: true, Help: "account address or key name"}
	qp := chain.Field{Name: "platform", Kind: chain.FieldAddress, Required: true, Help: "platform address or key name"}
	limit := chain.Field{Name: "limit", Kind: chain.FieldUint, Min: 1, Max: maxQueryItems, Help: fmt.Sprintf("at most this many items (max %d)", maxQueryItems)}
	return chain.Description{
		Short: "Creator royalties: works, exact splits, recoupment, usage reports, tradeable shares",
		Long: `A work's income is split among share holders in parts per million,
through an optional recoupment waterfall; payments cost the same however many
holders there are (holders claim), and nothing is rounded away. See
apps/royalty/doc.go.`,
		Msgs: []chain.MsgDesc{
			{Type: TypeCreateSplit, Short: "Create a split (e.g. a band's members) that works and other splits can hold shares in",
				Examples: []string{"dure tx royalty create-split --from alice --id haneul-band --holders dure1…:250000,dure1…:250000,dure1…:250000,dure1…:250000"},
				Fields:   []chain.Field{id("split id: a-z, 0-9, '-', '_', '.'"), holders},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					h, err := parseHolders(v.List("holders"))
					if err != nil {
						return chain.Msg{}, err
					}
					return MsgCreateSplit(c, v.String("id"), h)
				}},
			{Type: TypeRegister, Short: "Register a work: metadata, currencies, shares, recoupment waterfall, resale royalty",
				Examples: []string{`dure tx royalty register --from alice --id blue-night --cid bafkrei… --isrc KRA012600001 \
    --denoms nw --holders split:haneul-band:900000,dure1…:100000 \
    --waterfall dure1label…:10000000,split:blue-night:rest --resale-bps 500`},
				Fields: []chain.Field{
					id("work id: a-z, 0-9, '-', '_', '.'"),
					{Name: "cid", Kind: chain.FieldString, Required: true, Max: MaxCIDLen, Check: checkCID, Help: "CID of the work's metadata"},
					{Name: "isrc", Kind: chain.FieldString, Max: 12, Check: checkISRC, Help: "ISRC, 12 characters without hyphens"},
					{Name: "iswc", Kind: chain.FieldString, Max: 11, Check: checkISWC, Help: "ISWC, T and 10 digits without punctuation"},
					{Name: "denoms", Kind: chain.FieldList, Required: true, Max: MaxWorkDenoms, Check: checkDenoms, Help: "currencies the work is paid in"},
					holders,
					{Name: "waterfall", Kind: chain.FieldList, Max: MaxTranches, Check: checkWaterfall,
						Help: "recoupment tranches in order: dure1…:threshold or split:<id>:threshold, the last :rest"},
					bps("resale-bps", "creator's royalty on every share resale, basis points"),
				},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					h, err := parseHolders(v.List("holders"))
					if err != nil {
						return chain.Msg{}, err
					}
					wf, err := parseWaterfall(v.List("waterfall"))
					if err != nil {
						return chain.Msg{}, err
					}
					return MsgRegister(c, Register{ID: v.String("id"), CID: v.String("cid"), ISRC: v.String("isrc"),
						ISWC: v.String("iswc"), Denoms: v.List("denoms"), Holders: h, Waterfall: wf,
						ResaleBps: uint32(v.Uint("resale-bps"))})
				}},
			{Type: TypePay, Short: "Pay a work (through its waterfall) or a split",
				Examples: []string{"dure tx royalty pay --from dave --work blue-night --denom nw --amount 50000 --memo concert"},
				Fields: []chain.Field{ref("work", "work or split id"), denom,
					{Name: "amount", Kind: chain.FieldUint, Min: 1, Required: true, Help: "amount in the currency's smallest unit"},
					str("memo", "free text", MaxMemoLen, false)},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgPay(c, v.String("work"), v.String("denom"), v.Uint("amount"), v.String("memo"))
				}},
			{Type: TypeClaim, Short: "Claim what you have accrued in a split (every denom unless --denom)",
				Examples: []string{"dure tx royalty claim --from bob --split haneul-band"},
				Fields:   []chain.Field{ref("split", "split or work id"), {Name: "denom", Kind: chain.FieldString, Max: 64, Check: checkDenom, Help: "only this denom"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgClaim(c, v.String("split"), v.String("denom"))
				}},
			{Type: TypeTransfer, Short: "Give shares (units) of a split to another account; both are settled first",
				Examples: []string{"dure tx royalty transfer --from bob --split blue-night --to carol --units 1000"},
				Fields: []chain.Field{ref("split", "split or work id"), addr("to", "recipient"),
					{Name: "units", Kind: chain.FieldUint, Min: 1, Max: TotalUnits, Required: true, Help: "share units (millionths)"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgTransfer(c, v.String("split"), v.Address("to"), v.Uint("units"))
				}},
			{Type: TypeProposeTerms, Short: "Creator proposes a new resale royalty; effective after the timelock, increases capped",
				Examples: []string{"dure tx royalty propose-terms --from alice --work blue-night --resale-bps 600"},
				Fields:   []chain.Field{ref("work", "work id"), bps("resale-bps", "new resale royalty, basis points")},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgProposeTerms(c, v.String("work"), uint32(v.Uint("resale-bps")))
				}},
			{Type: TypeProposeFee, Short: "Operator proposes a new platform fee; effective after the timelock, increases capped",
				Examples: []string{"dure tx royalty propose-fee --from operator --platform-bps 300"},
				Fields:   []chain.Field{bps("platform-bps", "new platform fee, basis points")},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgProposeFee(c, uint32(v.Uint("platform-bps")))
				}},
			{Type: TypeGrantPlatform, Short: "Operator grants the platform role (an open registry: an account registers itself)",
				Examples: []string{"dure tx royalty grant-platform --from bob --account bob --name melody-stream"},
				Fields:   []chain.Field{addr("account", "platform account"), str("name", "platform name", MaxIDLen, true)},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgGrantPlatform(c, v.Address("account"), v.String("name"))
				}},
			{Type: TypeRevokePlatform, Short: "Operator revokes the platform role",
				Examples: []string{"dure tx royalty revoke-platform --from operator --account dure1…"},
				Fields:   []chain.Field{addr("account", "platform account")},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgRevokePlatform(c, v.Address("account"))
				}},
			{Type: TypeReport, Short: "Platform submits and pays a period's usage report (DSR-like lines)",
				Long: `Each line is work:territory:units:amount. Report ids are unique per platform;
--supersedes corrects an earlier report: only the difference is paid, and a
correction downwards becomes a credit for the platform's next reports.`,
				Examples: []string{"dure tx royalty report --from bob --id melody-2026-11 --period 2026-11 --denom nw \\\n    --lines blue-night:KR:120000:600000,blue-night:JP:8000:40000"},
				Fields: []chain.Field{id("report id, unique for the platform"),
					{Name: "period", Kind: chain.FieldString, Required: true, Max: MaxPeriodLen, Check: checkPeriod, Help: "reporting period, e.g. 2026-11"}, denom,
					{Name: "lines", Kind: chain.FieldList, Required: true, Max: MaxReportLines, Check: checkLines, Help: "work:territory:units:amount,…"},
					{Name: "supersedes", Kind: chain.FieldString, Max: MaxIDLen, Check: checkID, Help: "id of the report this one corrects"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					l, err := parseLines(v.List("lines"))
					if err != nil {
						return chain.Msg{}, err
					}
					return MsgReport(c, SubmitReport{ID: v.String("id"), Period: v.String("period"), Denom: v.String("denom"),
						Lines: l, Supersedes: v.String("supersedes")})
				}},
			{Type: TypeSell, Short: "Offer shares at a price per unit; they are locked until bought or cancelled",
				Examples: []string{"dure tx royalty sell --from erin --split blue-night --units 5000 --denom nw --price 12"},
				Fields: []chain.Field{ref("split", "split or work id"),
					{Name: "units", Kind: chain.FieldUint, Min: 1, Max: TotalUnits, Required: true, Help: "share units"}, denom,
					{Name: "price", Kind: chain.FieldUint, Min: 1, Required: true, Help: "price per unit"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgSell(c, v.String("split"), v.Uint("units"), v.String("denom"), v.Uint("price"))
				}},
			{Type: TypeBuy, Short: "Buy an order (the resale royalty and platform fee are paid out of the price)",
				Examples: []string{"dure tx royalty buy --from dave --order 1"},
				Fields: []chain.Field{{Name: "order", Kind: chain.FieldUint, Min: 1, Required: true, Help: "order id"},
					uint("units", "units to buy (all when not given)", false)},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgBuy(c, v.Uint("order"), v.Uint("units"))
				}},
			{Type: TypeCancelOrder, Short: "Withdraw your order",
				Examples: []string{"dure tx royalty cancel-order --from erin --order 1"},
				Fields:   []chain.Field{{Name: "order", Kind: chain.FieldUint, Min: 1, Required: true, Help: "order id"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgCancelOrder(c, v.Uint("order"))
				}},
			{Type: TypeOpenAuction, Short: "Creator opens a uniform-price auction of some of its shares",
				Examples: []string{"dure tx royalty open-auction --from alice --work blue-night --units 50000 --denom nw --min-price 10 --duration 60s"},
				Fields: []chain.Field{ref("work", "work id"),
					{Name: "units", Kind: chain.FieldUint, Min: 1, Max: TotalUnits, Required: true, Help: "share units offered"}, denom,
					{Name: "min-price", Kind: chain.FieldUint, Min: 1, Required: true, Help: "lowest price per unit"},
					{Name: "duration", Kind: chain.FieldDuration, Required: true, Help: "how long bids are taken, e.g. 72h"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgOpenAuction(c, v.String("work"), v.Uint("units"), v.String("denom"), v.Uint("min-price"), v.Seconds("duration"))
				}},
			{Type: TypeBid, Short: "Bid for units at up to a price each (escrowed; the excess is refunded at close)",
				Examples: []string{"dure tx royalty bid --from erin --auction 1 --units 20000 --price 15"},
				Fields: []chain.Field{{Name: "auction", Kind: chain.FieldUint, Min: 1, Required: true, Help: "auction id"},
					{Name: "units", Kind: chain.FieldUint, Min: 1, Max: TotalUnits, Required: true, Help: "share units wanted"},
					{Name: "price", Kind: chain.FieldUint, Min: 1, Required: true, Help: "highest price per unit"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgBid(c, v.Uint("auction"), v.Uint("units"), v.Uint("price"))
				}},
			{Type: TypeCloseAuction, Short: "Clear an ended auction at one price (anyone)",
				Examples: []string{"dure tx royalty close-auction --from erin --auction 1"},
				Fields:   []chain.Field{{Name: "auction", Kind: chain.FieldUint, Min: 1, Required: true, Help: "auction id"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgCloseAuction(c, v.Uint("auction"))
				}},
		},
		Queries: []chain.QueryDesc{
			{Path: "registry", Short: "Operator, platform fee, cut limits, timelock", Examples: []string{"dure query royalty registry"}},
			{Path: "work", Short: "A work and its terms", Args: []chain.Field{qs("id", "work id")},
				Examples: []string{"dure query royalty work --arg id=blue-night"}},
			{Path: "works", Short: "Works, by id (optionally one creator's)",
				Args:     []chain.Field{{Name: "creator", Kind: chain.FieldAddress, Help: "only this creator's"}, limit},
				Examples: []string{"dure query royalty works --arg creator=alice"}},
			{Path: "split", Short: "A split: nested holders, denoms, holder count", Args: []chain.Field{qs("id", "split id")},
				Examples: []string{"dure query royalty split --arg id=haneul-band"}},
			{Path: "holders", Short: "A split's account holders, by address", Args: []chain.Field{qs("split", "split id"), limit},
				Examples: []string{"dure query royalty holders --arg split=blue-night"}},
			{Path: "claimable", Short: "What an account may claim from a split, per denom", Args: []chain.Field{qs("split", "split id"), qa},
				Examples: []string{"dure query royalty claimable --arg split=haneul-band --arg address=bob"}},
			{Path: "pool", Short: "A split's accumulator in one denom: paid in, claimed, paid to nested splits", Args: []chain.Field{qs("split", "split id"), qs("denom", "denom")},
				Examples: []string{"dure query royalty pool --arg split=blue-night --arg denom=nw"}},
			{Path: "statement", Short: "What a split was credited in a period and an account's part of it",
				Args:     []chain.Field{qs("split", "split id"), qa, qs("period", "period, e.g. 2026-11"), qs("denom", "denom")},
				Examples: []string{"dure query royalty statement --arg split=haneul-band --arg address=carol --arg period=2026-11 --arg denom=nw"}},
			{Path: "platform", Short: "One platform", Args: []chain.Field{qa},
				Examples: []string{"dure query royalty platform --arg address=bob"}},
			{Path: "platforms", Short: "Every platform", Args: []chain.Field{limit}, Examples: []string{"dure query royalty platforms"}},
			{Path: "report", Short: "A usage report with its lines", Args: []chain.Field{qp, qs("id", "report id")},
				Examples: []string{"dure query royalty report --arg platform=bob --arg id=melody-2026-11"}},
			{Path: "reports", Short: "A platform's reports, by id", Args: []chain.Field{qp, limit},
				Examples: []string{"dure query royalty reports --arg platform=bob"}},
			{Path: "credit", Short: "A platform's credit for a work (from corrections downwards)",
				Args:     []chain.Field{qp, qs("work", "work id"), qs("denom", "denom")},
				Examples: []string{"dure query royalty credit --arg platform=bob --arg work=blue-night --arg denom=nw"}},
			{Path: "order", Short: "One open order", Args: []chain.Field{{Name: "id", Kind: chain.FieldUint, Required: true, Help: "order id"}},
				Examples: []string{"dure query royalty order --arg id=1"}},
			{Path: "orders", Short: "Open orders, oldest first", Args: []chain.Field{{Name: "split", Kind: chain.FieldString, Help: "only this split's"}, limit},
				Examples: []string{"dure query royalty orders --arg split=blue-night"}},
			{Path: "auction", Short: "An auction and its bids", Args: []chain.Field{{Name: "id", Kind: chain.FieldUint, Required: true, Help: "auction id"}},
				Examples: []string{"dure query royalty auction --arg id=1"}},
		},
	}
}
