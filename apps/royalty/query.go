package royalty

import (
	"fmt"
	"strconv"

	"github.com/dure-network/dure/chain"
)

// Query results (JSON).
type (
	// HolderResult is one account holding.
	HolderResult struct {
		Address chain.Address `json:"address"`
		Units   uint64        `json:"units"`
		Locked  uint64        `json:"locked"`
	}
	// ClaimableResult answers "claimable": an account's holding settled up
	// to now, per denom.
	ClaimableResult struct {
		Split   string        `json:"split"`
		Address chain.Address `json:"address"`
		Units   uint64        `json:"units"`
		Locked  uint64        `json:"locked"`
		Denoms  []Claimable   `json:"denoms"`
	}
	// Claimable is what an account may claim in one denom, the millionths
	// of a unit carried to its next accrual, and what it has claimed.
	Claimable struct {
		Denom     string `json:"denom"`
		Claimable uint64 `json:"claimable,string"`
		Carried   uint64 `json:"carried_millionths"`
		Claimed   uint64 `json:"claimed,string"`
	}
	// PoolResult answers "pool".
	PoolResult struct {
		Split string `json:"split"`
		Denom string `json:"denom"`
		Pool
	}
	// StatementResult answers "statement": what the split was credited in a
	// period and the account's part of it at its current holding.
	StatementResult struct {
		Split    string        `json:"split"`
		Address  chain.Address `json:"address"`
		Period   string        `json:"period"`
		Denom    string        `json:"denom"`
		Credited uint64        `json:"credited,string"`
		Units    uint64        `json:"units"`
		Share    uint64        `json:"share,string"`
		// Millionths of a unit of Share's remainder.
		Carried uint64 `json:"carried_millionths"`
		// Exact is true when the holding's units have not changed since the
		// period's first credit (FirstHeight): Share is then exactly what
		// the period earned it. Otherwise Share is at the current holding.
		Exact        bool   `json:"exact"`
		FirstHeight  uint64 `json:"first_height"`
		UnitsChanged uint64 `json:"units_changed_height"`
	}
	// ReportSummary is a report without its lines.
	ReportSummary struct {
		ID           string      `json:"id"`
		Period       string      `json:"period"`
		Denom        string      `json:"denom"`
		Lines        int         `json:"lines"`
		Totals       []WorkTotal `json:"totals"`
		Paid         uint64      `json:"paid,string"`
		CreditUsed   uint64      `json:"credit_used,string"`
		Credited     uint64      `json:"credited,string"`
		Supersedes   string      `json:"supersedes,omitempty"`
		SupersededBy string      `json:"superseded_by,omitempty"`
		Height       uint64      `json:"height"`
	}
	// PlatformResult is a platform with its address.
	PlatformResult struct {
		Address chain.Address `json:"address"`
		Platform
	}
	// AuctionResult is an auction with its bids.
	AuctionResult struct {
		Auction
		BidList []Bid `json:"bid_list"`
	}
)

// maxQueryItems bounds list answers; "limit" lowers it.
const maxQueryItems = 1000

func need(args map[string]string, names ...string) error {
	for _, n := range names {
		if args[n] == "" {
			return fmt.Errorf("%w: missing argument %q", chain.ErrInvalidMsg, n)
		}
	}
	return nil
}

func argAddr(args map[string]string, name string) (chain.Address, error) {
	a, err := chain.ParseAddress(args[name])
	if err != nil {
		return chain.Address{}, fmt.Errorf("%w: %s: %v", chain.ErrInvalidMsg, name, err)
	}
	return a, nil
}

func argU64(args map[string]string, name string) (uint64, error) {
	n, err := strconv.ParseUint(args[name], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q", chain.ErrInvalidMsg, name, args[name])
	}
	return n, nil
}

// Query answers, with args given as strings:
//
//	registry   -                          -> Registry
//	work       id                         -> Work
//	works      [creator] [limit]          -> []Work, by id
//	split      id                         -> Split
//	holders    split [limit]              -> []HolderResult, by address
//	claimable  split, address             -> ClaimableResult
//	pool       split, denom               -> PoolResult
//	statement  split, address, period, denom -> StatementResult
//	platform   address                    -> PlatformResult
//	platforms  [limit]                    -> []PlatformResult
//	report     platform, id               -> Report (with lines)
//	reports    platform [limit]           -> []ReportSummary, by id
//	credit     platform, work, denom      -> {"credit": n}
//	order      id                         -> Order
//	orders     [split] [limit]            -> []Order, oldest first
//	auction    id                         -> AuctionResult
//
// Every answer is computed from the values read alone, so `dure query`
// recomputes it over proven state.
func (m *Module) Query(store chain.KVReader, path string, args map[string]string) (any, error) {
	s := &st{m: m, r: store}
	limit := maxQueryItems
	if v, ok := args["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: limit %q", chain.ErrInvalidMsg, v)
		}
		limit = min(n, maxQueryItems)
	}
	notFound := func(err error) error { return fmt.Errorf("%w: %w", chain.ErrNotFound, err) }
	switch path {
	case "registry":
		return s.registry()
	case "work":
		if err := need(args, "id"); err != nil {
			return nil, err
		}
		var w Work
		if ok, err := s.get(keyWork(args["id"]), &w); err != nil || !ok {
			if err == nil {
				err = notFound(fmt.Errorf("work %q", args["id"]))
			}
			return nil, err
		}
		return w, nil
	case "works":
		out := []Work{}
		if args["creator"] != "" {
			a, err := argAddr(args, "creator")
			if err != nil {
				return nil, err
			}
			prefix := append([]byte(pByCreator), a[:]...)
			err = store.Iterate(prefix, func(k, _ []byte) (bool, error) {
				var w Work
				if _, err := s.get(keyWork(string(k[len(prefix):])), &w); err != nil {
					return true, err
				}
				out = append(out, w)
				return len(out) >= limit, nil
			})
			return out, err
		}
		err := store.Iterate([]byte(pWork), func(_, v []byte) (bool, error) {
			var w Work
			if err := m.codec.Unmarshal(v, &w); err != nil {
				return true, fmt.Errorf("%w: work: %v", ErrCorrupt, err)
			}
			out = append(out, w)
			return len(out) >= limit, nil
		})
		return out, err
	case "split":
		if err := need(args, "id"); err != nil {
			return nil, err
		}
		sp, err := s.split(args["id"])
		if err != nil {
			return nil, notFound(err)
		}
		return sp, nil
	case "holders":
		if err := need(args, "split"); err != nil {
			return nil, err
		}
		out := []HolderResult{}
		prefix := keyHoldingPrefix(args["split"])
		err := store.Iterate(prefix, func(k, v []byte) (bool, error) {
			var h Holding
			if err := m.codec.Unmarshal(v, &h); err != nil || len(k) != len(prefix)+chain.AddressLen {
				return true, fmt.Errorf("%w: holding %x", ErrCorrupt, k)
			}
			var a chain.Address
			copy(a[:], k[len(prefix):])
			out = append(out, HolderResult{Address: a, Units: h.Units, Locked: h.Locked})
			return len(out) >= limit, nil
		})
		return out, err
	case "claimable":
		if err := need(args, "split", "address"); err != nil {
			return nil, err
		}
		a, err := argAddr(args, "address")
		if err != nil {
			return nil, err
		}
		sp, err := s.split(args["split"])
		if err != nil {
			return nil, notFound(err)
		}
		h, _, err := s.loadHolding(sp, a) // settles in memory only
		if err != nil {
			return nil, err
		}
		res := ClaimableResult{Split: sp.ID, Address: a, Units: h.Units, Locked: h.Locked, Denoms: []Claimable{}}
		for _, ac := range h.Acc {
			res.Denoms = append(res.Denoms, Claimable{Denom: ac.Denom, Claimable: ac.Owed, Carried: ac.Frac, Claimed: ac.Claimed})
		}
		return res, nil
	case "pool":
		if err := need(args, "split", "denom"); err != nil {
			return nil, err
		}
		p, err := s.pool(args["split"], args["denom"])
		if err != nil {
			return nil, err
		}
		return PoolResult{Split: args["split"], Denom: args["denom"], Pool: *p}, nil
	case "statement":
		if err := need(args, "split", "address", "period", "denom"); err != nil {
			return nil, err
		}
		a, err := argAddr(args, "address")
		if err != nil {
			return nil, err
		}
		pr, err := s.period(keyPeriod(args["split"], args["denom"], args["period"]))
		if err != nil {
			return nil, err
		}
		h, err := s.holding(args["split"], a)
		if err != nil {
			return nil, err
		}
		share, carried := accrue(h.Units, pr.total, 0)
		return StatementResult{Split: args["split"], Address: a, Period: args["period"], Denom: args["denom"],
			Credited: pr.total, Units: h.Units, Share: share, Carried: carried,
			Exact: pr.total > 0 && (h.Changed == 0 || h.Changed < pr.first), FirstHeight: pr.first, UnitsChanged: h.Changed}, nil
	case "platform":
		if err := need(args, "address"); err != nil {
			return nil, err
		}
		a, err := argAddr(args, "address")
		if err != nil {
			return nil, err
		}
		var p Platform
		if ok, err := s.get(keyPlatform(a), &p); err != nil || !ok {
			if err == nil {
				err = notFound(fmt.Errorf("platform %s", a))
			}
			return nil, err
		}
		return PlatformResult{Address: a, Platform: p}, nil
	case "platforms":
		out := []PlatformResult{}
		err := store.Iterate([]byte(pPlatform), func(k, v []byte) (bool, error) {
			var p Platform
			if err := m.codec.Unmarshal(v, &p); err != nil || len(k) != len(pPlatform)+chain.AddressLen {
				return true, fmt.Errorf("%w: platform %x", ErrCorrupt, k)
			}
			var a chain.Address
			copy(a[:], k[len(pPlatform):])
			out = append(out, PlatformResult{Address: a, Platform: p})
			return len(out) >= limit, nil
		})
		return out, err
	case "report":
		if err := need(args, "platform", "id"); err != nil {
			return nil, err
		}
		a, err := argAddr(args, "platform")
		if err != nil {
			return nil, err
		}
		var r Report
		if ok, err := s.get(keyReport(a, args["id"]), &r); err != nil || !ok {
			if err == nil {
				err = notFound(fmt.Errorf("report %q of %s", args["id"], a))
			}
			return nil, err
		}
		return r, nil
	case "reports":
		if err := need(args, "platform"); err != nil {
			return nil, err
		}
		a, err := argAddr(args, "platform")
		if err != nil {
			return nil, err
		}
		out := []ReportSummary{}
		err = store.Iterate(keyReportPrefix(a), func(_, v []byte) (bool, error) {
			var r Report
			if err := m.codec.Unmarshal(v, &r); err != nil {
				return true, fmt.Errorf("%w: report: %v", ErrCorrupt, err)
			}
			out = append(out, ReportSummary{ID: r.ID, Period: r.Period, Denom: r.Denom, Lines: len(r.Lines), Totals: r.Totals,
				Paid: r.Paid, CreditUsed: r.CreditUsed, Credited: r.Credited, Supersedes: r.Supersedes,
				SupersededBy: r.SupersededBy, Height: r.Height})
			return len(out) >= limit, nil
		})
		return out, err
	case "credit":
		if err := need(args, "platform", "work", "denom"); err != nil {
			return nil, err
		}
		a, err := argAddr(args, "platform")
		if err != nil {
			return nil, err
		}
		c, err := s.getU64(keyCredit(a, args["work"], args["denom"]))
		if err != nil {
			return nil, err
		}
		return map[string]string{"credit": u64s(c)}, nil
	case "order":
		id, err := argU64(args, "id")
		if err != nil {
			return nil, err
		}
		var o Order
		if ok, err := s.get(keyOrder(id), &o); err != nil || !ok {
			if err == nil {
				err = notFound(fmt.Errorf("order %d", id))
			}
			return nil, err
		}
		return o, nil
	case "orders":
		out := []Order{}
		err := store.Iterate([]byte(pOrder), func(_, v []byte) (bool, error) {
			var o Order
			if err := m.codec.Unmarshal(v, &o); err != nil {
				return true, fmt.Errorf("%w: order: %v", ErrCorrupt, err)
			}
			if args["split"] == "" || o.Split == args["split"] {
				out = append(out, o)
			}
			return len(out) >= limit, nil
		})
		return out, err
	case "auction":
		id, err := argU64(args, "id")
		if err != nil {
			return nil, err
		}
		var a Auction
		if ok, err := s.get(keyAuction(id), &a); err != nil || !ok {
			if err == nil {
				err = notFound(fmt.Errorf("auction %d", id))
			}
			return nil, err
		}
		res := AuctionResult{Auction: a, BidList: []Bid{}}
		err = store.Iterate(keyBidPrefix(id), func(_, v []byte) (bool, error) {
			var b Bid
			if err := m.codec.Unmarshal(v, &b); err != nil {
				return true, fmt.Errorf("%w: bid: %v", ErrCorrupt, err)
			}
			res.BidList = append(res.BidList, b)
			return false, nil
		})
		return res, err
	}
	return nil, fmt.Errorf("%w: royalty query %q", chain.ErrInvalidMsg, path)
}
