package royalty

import (
	"encoding/binary"

	"github.com/dure-network/dure/chain"
)

// Key prefixes inside the module's own store (doc.go has the layout).
const (
	pRegistry  = "P"  // Registry
	pWork      = "w/" // w/<id> -> Work
	pSplit     = "s/" // s/<id> -> Split
	pHolding   = "h/" // h/<len><split><addr20> -> Holding
	pPool      = "p/" // p/<len><split><denom> -> Pool
	pPeriod    = "e/" // e/<len><split><len><denom><period> -> u64 credited in that period
	pPlatform  = "f/" // f/<addr20> -> Platform
	pReport    = "r/" // r/<addr20><id> -> Report
	pCredit    = "c/" // c/<addr20><len><work><denom> -> u64 platform credit
	pOrderSeq  = "O"  // next order id
	pOrder     = "o/" // o/<id u64> -> Order
	pAuctSeq   = "A"  // next auction id
	pAuction   = "a/" // a/<id u64> -> Auction
	pBid       = "b/" // b/<auction u64><seq u64> -> Bid
	pDueTerms  = "q/" // q/<at u64><len><work> -> {} ("" work: the platform fee)
	pByCreator = "k/" // k/<addr20><work> -> {} (works by creator)
)

func lp(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

func be64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func keyWork(id string) []byte  { return append([]byte(pWork), id...) }
func keySplit(id string) []byte { return append([]byte(pSplit), id...) }

func keyHoldingPrefix(split string) []byte { return lp([]byte(pHolding), split) }
func keyHolding(split string, a chain.Address) []byte {
	return append(keyHoldingPrefix(split), a[:]...)
}

func keyPool(split, denom string) []byte { return append(lp([]byte(pPool), split), denom...) }

func keyPeriod(split, denom, period string) []byte {
	return append(lp(lp([]byte(pPeriod), split), denom), period...)
}
func keyPeriodPrefix(split, denom string) []byte { return lp(lp([]byte(pPeriod), split), denom) }

func keyPlatform(a chain.Address) []byte { return append([]byte(pPlatform), a[:]...) }

func keyReportPrefix(a chain.Address) []byte { return append([]byte(pReport), a[:]...) }
func keyReport(a chain.Address, id string) []byte {
	return append(keyReportPrefix(a), id...)
}

func keyCredit(a chain.Address, work, denom string) []byte {
	k := append([]byte(pCredit), a[:]...)
	return append(lp(k, work), denom...)
}

func keyOrder(id uint64) []byte   { return be64([]byte(pOrder), id) }
func keyAuction(id uint64) []byte { return be64([]byte(pAuction), id) }
func keyBidPrefix(auction uint64) []byte {
	return be64([]byte(pBid), auction)
}
func keyBid(auction, seq uint64) []byte { return be64(keyBidPrefix(auction), seq) }

func keyDue(at int64, work string) []byte {
	if at < 0 {
		at = 0
	}
	return lp(be64([]byte(pDueTerms), uint64(at)), work)
}

func keyByCreator(a chain.Address, work string) []byte {
	k := append([]byte(pByCreator), a[:]...)
	return append(k, work...)
}
