package currency

import (
	"encoding/binary"
	"fmt"

	"github.com/dure-network/dure/chain"
)

// BalanceKey is the full state key (module prefix included) of addr's
// balance of denom: what a state proof of a balance names. apps/subnet
// uses it, through its BalanceLayout interface, to check an escape
// withdrawal against a subnet's checkpointed state root.
func (m *Module) BalanceKey(addr chain.Address, denom string) []byte {
	return append([]byte(ModuleName+"/"), keyBalance(addr, denom)...)
}

// DecodeBalance reads the amount from a stored balance value (8 bytes, or
// 16 with the demurrage time). Expiry and demurrage due but not applied at
// the proven state are not deducted.
func (m *Module) DecodeBalance(v []byte) (uint64, error) {
	if len(v) != 8 && len(v) != 16 {
		return 0, fmt.Errorf("%w: balance value of %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
