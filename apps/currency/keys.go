package currency

import (
	"encoding/binary"

	"github.com/dure-network/dure/chain"
)

// Key prefixes inside the module's own store. doc.go documents the layout.
const (
	pNative     = "n"  // native denom
	pCurrency   = "c/" // c/<denom> -> Currency (CBOR)
	pSupply     = "s/" // s/<denom> -> u64 BE
	pBalance    = "b/" // b/<addr20><denom> -> u64 BE amount [+ i64 BE demurrage-since]
	pHolder     = "h/" // h/<len><denom><addr20> -> {} (holders of a denom)
	pLot        = "l/" // l/<len><denom><addr20><exp u64 BE> -> u64 BE amount
	pExpiry     = "q/" // q/<exp u64 BE><addr20><denom> -> {} (lot expiry queue)
	pVoucher    = "v/" // v/<end u64 BE><denom> -> {} (voucher end queue)
	pRole       = "r/" // r/<len><denom><role byte><addr20> -> {}
	pMerchant   = "m/" // m/<len><denom><addr20> -> Merchant (CBOR)
	pSettleSeq  = "S/" // S/<denom> -> u64 BE next settlement sequence
	pSettlement = "d/" // d/<len><denom><seq u64 BE> -> Settlement (CBOR)
)

func denomPart(b []byte, denom string) []byte {
	b = append(b, byte(len(denom)))
	return append(b, denom...)
}

func be64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// timeKey maps a non-negative time (seconds, or nanoseconds for voucher
// ends) to its sortable 8 bytes.
func timeKey(b []byte, t int64) []byte {
	if t < 0 {
		t = 0
	}
	return be64(b, uint64(t))
}

func keyCurrency(denom string) []byte { return append([]byte(pCurrency), denom...) }
func keySupply(denom string) []byte   { return append([]byte(pSupply), denom...) }

func keyBalance(addr chain.Address, denom string) []byte {
	k := make([]byte, 0, len(pBalance)+chain.AddressLen+len(denom))
	k = append(k, pBalance...)
	k = append(k, addr[:]...)
	return append(k, denom...)
}

func keyBalancesOf(addr chain.Address) []byte { return append([]byte(pBalance), addr[:]...) }

func keyHolderPrefix(denom string) []byte { return denomPart([]byte(pHolder), denom) }
func keyHolder(denom string, addr chain.Address) []byte {
	return append(keyHolderPrefix(denom), addr[:]...)
}

func keyLotPrefix(denom string, addr chain.Address) []byte {
	return append(denomPart([]byte(pLot), denom), addr[:]...)
}
func keyLot(denom string, addr chain.Address, exp int64) []byte {
	return timeKey(keyLotPrefix(denom, addr), exp)
}

func keyExpiry(exp int64, addr chain.Address, denom string) []byte {
	k := timeKey([]byte(pExpiry), exp)
	k = append(k, addr[:]...)
	return append(k, denom...)
}

func keyVoucher(end chain.Time, denom string) []byte {
	return append(timeKey([]byte(pVoucher), end.UnixNano()), denom...)
}

func keyRolePrefix(denom string) []byte { return denomPart([]byte(pRole), denom) }
func keyRole(denom string, r Role, addr chain.Address) []byte {
	k := append(keyRolePrefix(denom), byte(r))
	return append(k, addr[:]...)
}

func keyMerchantPrefix(denom string) []byte { return denomPart([]byte(pMerchant), denom) }
func keyMerchant(denom string, addr chain.Address) []byte {
	return append(keyMerchantPrefix(denom), addr[:]...)
}

func keySettleSeq(denom string) []byte              { return append([]byte(pSettleSeq), denom...) }
func keySettlementPrefix(denom string) []byte       { return denomPart([]byte(pSettlement), denom) }
func keySettlement(denom string, seq uint64) []byte { return be64(keySettlementPrefix(denom), seq) }
