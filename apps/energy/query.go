package energy

import (
	"fmt"
	"strconv"
	"time"

	"github.com/dure-network/dure/chain"
)

// Query results (JSON) that are not state records themselves.
type (
	// BookResult answers "book": an interval's orders by ID, and its
	// clearing once the gate has closed.
	BookResult struct {
		Market   string    `json:"market"`
		Interval int64     `json:"interval"`
		GateAt   int64     `json:"gate_closes"`
		Orders   []Order   `json:"orders"`
		Clearing *Clearing `json:"clearing,omitempty"`
	}
	// ClearingResult answers "clearing": the result and its trades.
	ClearingResult struct {
		Clearing
		TradeList []Trade `json:"trade_list"`
	}
	// OperatorsResult answers "operators".
	OperatorsResult struct {
		Market    string          `json:"market"`
		Creator   chain.Address   `json:"creator"`
		Operators []chain.Address `json:"operators"`
	}
	// ReadingResult is a stored reading with its place.
	ReadingResult struct {
		Meter    string `json:"meter"`
		Interval int64  `json:"interval"`
		StoredReading
	}
)

// Query answers, with args given as strings (intervals as Unix seconds
// or RFC 3339):
//
//	market      id                -> Market
//	markets                       -> []Market
//	operators   market            -> OperatorsResult
//	meter       id                -> Meter
//	meters      market            -> []Meter, by ID
//	reading     meter, interval   -> ReadingResult
//	readings    meter             -> []ReadingResult, oldest first
//	book        market, interval  -> BookResult (the order book)
//	order       id                -> Order (while its book is open or kept)
//	clearing    market, interval  -> ClearingResult
//	statement   meter, interval   -> Statement
//	statements  meter             -> []Statement, oldest first
//	session     id                -> Session
//
// Every answer is computed only from the values read, so a client can
// recompute it over proven values.
func (m *Module) Query(r chain.KVReader, path string, args map[string]string) (any, error) {
	q := querier{m: m, r: r, args: args}
	limit, err := q.limit()
	if err != nil {
		return nil, err
	}
	switch path {
	case "market":
		var mk Market
		return q.one(keyMarket(args["id"]), &mk, "market "+args["id"])
	case "markets":
		return list[Market](q, []byte(pMarket), limit, nil)
	case "operators":
		var mk Market
		if _, err := q.one(keyMarket(args["market"]), &mk, "market "+args["market"]); err != nil {
			return nil, err
		}
		res := OperatorsResult{Market: mk.ID, Creator: mk.Creator, Operators: []chain.Address{}}
		prefix := str([]byte(pOperator), mk.ID)
		err := r.Iterate(prefix, func(k, _ []byte) (bool, error) {
			var a chain.Address
			copy(a[:], k[len(prefix):])
			res.Operators = append(res.Operators, a)
			return len(res.Operators) >= limit, nil
		})
		return res, err
	case "meter":
		var mt Meter
		return q.one(keyMeter(args["id"]), &mt, "meter "+args["id"])
	case "meters":
		want := args["market"]
		return list(q, []byte(pMeter), limit, func(mt *Meter) bool { return want == "" || mt.Market == want })
	case "reading":
		t, err := q.interval()
		if err != nil {
			return nil, err
		}
		var sr StoredReading
		if _, err := q.one(keyReading(args["meter"], t), &sr, fmt.Sprintf("reading %s at %d", args["meter"], t)); err != nil {
			return nil, err
		}
		return ReadingResult{Meter: args["meter"], Interval: t, StoredReading: sr}, nil
	case "readings":
		prefix := keyReadingPrefix(args["meter"])
		out := []ReadingResult{}
		err := r.Iterate(prefix, func(k, v []byte) (bool, error) {
			var sr StoredReading
			if err := m.codec.Unmarshal(v, &sr); err != nil {
				return true, fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			out = append(out, ReadingResult{Meter: args["meter"], Interval: int64(be64u(k[len(prefix):])), StoredReading: sr})
			return len(out) >= limit, nil
		})
		return out, err
	case "book":
		t, err := q.interval()
		if err != nil {
			return nil, err
		}
		var mk Market
		if _, err := q.one(keyMarket(args["market"]), &mk, "market "+args["market"]); err != nil {
			return nil, err
		}
		orders, err := list[Order](q, keyBookPrefix(mk.ID, t), limit, nil)
		if err != nil {
			return nil, err
		}
		res := BookResult{Market: mk.ID, Interval: t, GateAt: t - mk.GateLeadSecs, Orders: orders}
		var cl Clearing
		if ok, err := getRecord(m.codec, r, keyClearing(mk.ID, t), &cl); err != nil {
			return nil, err
		} else if ok {
			res.Clearing = &cl
		}
		return res, nil
	case "order":
		id, err := strconv.ParseUint(args["id"], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: id %q", chain.ErrInvalidMsg, args["id"])
		}
		loc, err := r.Get(keyOrderIdx(id))
		if err != nil {
			return nil, err
		}
		if loc == nil || len(loc) < 9 || int(loc[0]) != len(loc)-9 {
			return nil, fmt.Errorf("%w: order %d", chain.ErrNotFound, id)
		}
		var o Order
		return q.one(be64(append([]byte(pOrder), loc...), id), &o, fmt.Sprintf("order %d", id))
	case "clearing":
		t, err := q.interval()
		if err != nil {
			return nil, err
		}
		var res ClearingResult
		if _, err := q.one(keyClearing(args["market"], t), &res.Clearing, fmt.Sprintf("clearing %s at %d", args["market"], t)); err != nil {
			return nil, err
		}
		res.TradeList, err = readTrades(m.codec, r, args["market"], t, limit)
		return res, err
	case "statement":
		t, err := q.interval()
		if err != nil {
			return nil, err
		}
		var s Statement
		return q.one(keyStatement(args["meter"], t), &s, fmt.Sprintf("statement %s at %d", args["meter"], t))
	case "statements":
		return list[Statement](q, keyStatementPrefix(args["meter"]), limit, nil)
	case "session":
		id, err := strconv.ParseUint(args["id"], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: id %q", chain.ErrInvalidMsg, args["id"])
		}
		var s Session
		return q.one(keySession(id), &s, fmt.Sprintf("session %d", id))
	}
	return nil, fmt.Errorf("%w: energy has no query %q", chain.ErrNotFound, path)
}

type querier struct {
	m    *Module
	r    chain.KVReader
	args map[string]string
}

func (q querier) limit() (int, error) {
	s, ok := q.args["limit"]
	if !ok || s == "" {
		return maxQueryItems, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxQueryItems {
		return 0, fmt.Errorf("%w: limit %q: 1 to %d", chain.ErrInvalidMsg, s, maxQueryItems)
	}
	return n, nil
}

// interval reads the "interval" argument: Unix seconds or RFC 3339.
func (q querier) interval() (int64, error) {
	s := q.args["interval"]
	if t, err := strconv.ParseInt(s, 10, 64); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("%w: interval %q: Unix seconds or RFC 3339", chain.ErrInvalidMsg, s)
	}
	return t.Unix(), nil
}

// one reads a record into v and returns it, or ErrNotFound.
func (q querier) one(key []byte, v any, what string) (any, error) {
	ok, err := getRecord(q.m.codec, q.r, key, v)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", chain.ErrNotFound, what)
	}
	return v, nil
}

// list decodes the records under prefix, in key order, keeping those
// keep accepts (nil: all), up to limit.
func list[T any](q querier, prefix []byte, limit int, keep func(*T) bool) ([]T, error) {
	out := []T{}
	err := q.r.Iterate(prefix, func(_, v []byte) (bool, error) {
		var x T
		if err := q.m.codec.Unmarshal(v, &x); err != nil {
			return true, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if keep == nil || keep(&x) {
			out = append(out, x)
		}
		return len(out) >= limit, nil
	})
	return out, err
}
