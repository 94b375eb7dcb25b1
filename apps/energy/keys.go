package energy

import (
	"encoding/binary"

	"github.com/dure-network/dure/chain"
)

// Key prefixes inside the module's own store; doc.go documents the layout.
// Strings are length-prefixed so no key is a prefix of another's field.
const (
	pMarket    = "k/" // k/<id> -> Market
	pOperator  = "o/" // o/<len><market><addr20> -> {1}
	pMeter     = "m/" // m/<id> -> Meter
	pReading   = "r/" // r/<len><meter><interval> -> StoredReading
	pOrder     = "b/" // b/<len><market><interval><order id> -> Order (the book)
	pOrderIdx  = "i/" // i/<order id> -> <len><market><interval> (where an order lives)
	pMeterSide = "s/" // s/<len><meter><interval> -> {side}
	pCount     = "n/" // n/<len><market><interval> -> u64 orders in the book
	pGateQ     = "g/" // g/<gate time><interval><market> -> {1} (intervals to clear)
	pSettleQ   = "d/" // d/<settle time><interval><market> -> {1} (intervals to settle)
	pClearing  = "c/" // c/<len><market><interval> -> Clearing
	pTrade     = "t/" // t/<len><market><interval><page u32> -> TradePage (TradesPerPage trades)
	pStatement = "a/" // a/<len><meter><interval> -> Statement
	pSession   = "e/" // e/<id> -> Session
	pSessionQ  = "f/" // f/<expiry time><id> -> {1} (open sessions by expiry)
	keySeq     = "q"  // next order / session id
)

// marker is the value of presence-only keys (state cannot hold an empty
// value).
func marker() []byte { return []byte{1} }

func str(b []byte, s string) []byte  { b = append(b, byte(len(s))); return append(b, s...) }
func be64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// tkey maps a block time (seconds, clamped at 0) to 8 sortable bytes.
func tkey(b []byte, t int64) []byte {
	if t < 0 {
		t = 0
	}
	return be64(b, uint64(t))
}

func keyMarket(id string) []byte { return append([]byte(pMarket), id...) }
func keyOperator(mk string, a chain.Address) []byte {
	return append(str([]byte(pOperator), mk), a[:]...)
}
func keyMeter(id string) []byte                     { return append([]byte(pMeter), id...) }
func keyReadingPrefix(meter string) []byte          { return str([]byte(pReading), meter) }
func keyReading(meter string, t int64) []byte       { return tkey(keyReadingPrefix(meter), t) }
func keyBookPrefix(mk string, t int64) []byte       { return tkey(str([]byte(pOrder), mk), t) }
func keyOrder(mk string, t int64, id uint64) []byte { return be64(keyBookPrefix(mk, t), id) }
func keyOrderIdx(id uint64) []byte                  { return be64([]byte(pOrderIdx), id) }
func keyMeterSide(meter string, t int64) []byte     { return tkey(str([]byte(pMeterSide), meter), t) }
func keyCount(mk string, t int64) []byte            { return tkey(str([]byte(pCount), mk), t) }
func keyClearing(mk string, t int64) []byte         { return tkey(str([]byte(pClearing), mk), t) }
func keyTradePrefix(mk string, t int64) []byte      { return tkey(str([]byte(pTrade), mk), t) }
func keyStatement(meter string, t int64) []byte     { return tkey(str([]byte(pStatement), meter), t) }
func keyStatementPrefix(meter string) []byte        { return str([]byte(pStatement), meter) }
func keySession(id uint64) []byte                   { return be64([]byte(pSession), id) }

func keyTradePage(mk string, t int64, page uint32) []byte {
	return binary.BigEndian.AppendUint32(keyTradePrefix(mk, t), page)
}

// queue keys: <time><interval><market>, so iteration is oldest first and
// the (market, interval) can be read back from the key.
func keyQueue(prefix string, at, t int64, mk string) []byte {
	return append(tkey(tkey([]byte(prefix), at), t), mk...)
}

func parseQueue(k []byte) (at, t int64, mk string) {
	k = k[2:]
	return int64(binary.BigEndian.Uint64(k)), int64(binary.BigEndian.Uint64(k[8:])), string(k[16:])
}

func keySessionQ(at int64, id uint64) []byte { return be64(tkey([]byte(pSessionQ), at), id) }
