package currency

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/dure-network/dure/chain"
)

// Query results (JSON).
type (
	// BalanceResult answers "balance".
	BalanceResult struct {
		Address chain.Address `json:"address"`
		Denom   string        `json:"denom"`
		Amount  Amount        `json:"amount"`
		Lots    []LotResult   `json:"lots,omitempty"`
	}
	// LotResult is one lot: amount and expiry (block-time Unix seconds).
	LotResult struct {
		Amount  Amount `json:"amount"`
		Expires int64  `json:"expires"`
	}
	// SupplyResult answers "supply".
	SupplyResult struct {
		Denom  string `json:"denom"`
		Amount Amount `json:"amount"`
	}
	// RoleResult is one granted role.
	RoleResult struct {
		Role    string        `json:"role"`
		Address chain.Address `json:"address"`
	}
	// RolesResult answers "roles".
	RolesResult struct {
		Denom  string        `json:"denom"`
		Issuer chain.Address `json:"issuer"`
		Roles  []RoleResult  `json:"roles"`
	}
	// MerchantResult is a merchant with its address.
	MerchantResult struct {
		Address chain.Address `json:"address"`
		Merchant
	}
	// SettlementResult is a settlement with its sequence number.
	SettlementResult struct {
		Seq uint64 `json:"seq"`
		Settlement
	}
)

// maxQueryItems bounds list answers; "limit" lowers it.
const maxQueryItems = 1000

// Query answers, with args given as strings:
//
//	balance     address, denom   -> BalanceResult (with lots)
//	balances    address          -> []BalanceResult, one per denom held
//	lots        address, denom   -> []LotResult, oldest first
//	supply      denom            -> SupplyResult
//	native      -                -> {"denom": …}
//	currency    denom            -> Currency
//	currencies  -                -> []Currency, by denom
//	roles       denom            -> RolesResult
//	merchant    denom, address   -> MerchantResult
//	merchants   denom [limit]    -> []MerchantResult, by address
//	settlements denom [limit]    -> []SettlementResult, oldest first
//
// The stored balance is shown; expiry and demurrage that are due but not
// yet processed apply at the account's next use or in EndBlock.
func (m *Module) Query(store chain.KVReader, path string, args map[string]string) (any, error) {
	l := &ledger{m: m, r: store}
	limit := maxQueryItems
	if s, ok := args["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: limit %q", chain.ErrInvalidMsg, s)
		}
		limit = min(n, maxQueryItems)
	}
	addr := func() (chain.Address, error) {
		a, err := chain.ParseAddress(args["address"])
		if err != nil {
			return a, fmt.Errorf("%w: address: %w", chain.ErrInvalidMsg, err)
		}
		return a, nil
	}
	denom := func() (*Currency, error) {
		c, err := l.currency(args["denom"])
		if errors.Is(err, ErrUnknownDenom) {
			err = fmt.Errorf("%w: %w", chain.ErrNotFound, err)
		}
		return c, err
	}
	// addrDenom is the (address, denom) pair most queries take.
	addrDenom := func() (chain.Address, *Currency, error) {
		a, err := addr()
		if err != nil {
			return a, nil, err
		}
		c, err := denom()
		return a, c, err
	}
	switch path {
	case "balance":
		a, c, err := addrDenom()
		if err != nil {
			return nil, err
		}
		return l.balanceResult(c.Denom, a)
	case "balances":
		a, err := addr()
		if err != nil {
			return nil, err
		}
		var denoms []string
		prefix := keyBalancesOf(a)
		err = store.Iterate(prefix, func(k, _ []byte) (bool, error) {
			denoms = append(denoms, string(k[len(prefix):]))
			return len(denoms) >= limit, nil
		})
		if err != nil {
			return nil, err
		}
		out := []BalanceResult{}
		for _, d := range denoms {
			r, err := l.balanceResult(d, a)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	case "lots":
		a, c, err := addrDenom()
		if err != nil {
			return nil, err
		}
		r, err := l.balanceResult(c.Denom, a)
		if err != nil {
			return nil, err
		}
		if r.Lots == nil {
			return []LotResult{}, nil
		}
		return r.Lots, nil
	case "supply":
		c, err := denom()
		if err != nil {
			return nil, err
		}
		s, err := getU64(store, keySupply(c.Denom))
		return SupplyResult{Denom: c.Denom, Amount: Amount(s)}, err
	case "native":
		d, err := l.nativeDenom()
		return map[string]string{"denom": d}, err
	case "currency":
		return denom()
	case "currencies":
		out := []Currency{}
		err := store.Iterate([]byte(pCurrency), func(k, v []byte) (bool, error) {
			var c Currency
			if err := m.codec.Unmarshal(v, &c); err != nil {
				return true, fmt.Errorf("%w: currency %q: %v", ErrCorrupt, k, err)
			}
			out = append(out, c)
			return len(out) >= limit, nil
		})
		return out, err
	case "roles":
		c, err := denom()
		if err != nil {
			return nil, err
		}
		res := RolesResult{Denom: c.Denom, Issuer: c.Issuer, Roles: []RoleResult{}}
		prefix := keyRolePrefix(c.Denom)
		err = store.Iterate(prefix, func(k, _ []byte) (bool, error) {
			if len(k) != len(prefix)+1+chain.AddressLen {
				return true, fmt.Errorf("%w: role key %x", ErrCorrupt, k)
			}
			var a chain.Address
			copy(a[:], k[len(prefix)+1:])
			res.Roles = append(res.Roles, RoleResult{Role: Role(k[len(prefix)]).String(), Address: a})
			return len(res.Roles) >= limit, nil
		})
		return res, err
	case "merchant":
		a, c, err := addrDenom()
		if err != nil {
			return nil, err
		}
		mr, err := l.merchant(c.Denom, a)
		if err != nil {
			return nil, err
		}
		if mr == nil {
			return nil, fmt.Errorf("%w: merchant %s of %s", chain.ErrNotFound, a, c.Denom)
		}
		return MerchantResult{Address: a, Merchant: *mr}, nil
	case "merchants":
		c, err := denom()
		if err != nil {
			return nil, err
		}
		out := []MerchantResult{}
		prefix := keyMerchantPrefix(c.Denom)
		err = store.Iterate(prefix, func(k, v []byte) (bool, error) {
			var r MerchantResult
			if len(k) != len(prefix)+chain.AddressLen {
				return true, fmt.Errorf("%w: merchant key %x", ErrCorrupt, k)
			}
			copy(r.Address[:], k[len(prefix):])
			if err := m.codec.Unmarshal(v, &r.Merchant); err != nil {
				return true, fmt.Errorf("%w: merchant %x: %v", ErrCorrupt, k, err)
			}
			out = append(out, r)
			return len(out) >= limit, nil
		})
		return out, err
	case "settlements":
		c, err := denom()
		if err != nil {
			return nil, err
		}
		out := []SettlementResult{}
		prefix := keySettlementPrefix(c.Denom)
		err = store.Iterate(prefix, func(k, v []byte) (bool, error) {
			var r SettlementResult
			if len(k) != len(prefix)+8 {
				return true, fmt.Errorf("%w: settlement key %x", ErrCorrupt, k)
			}
			r.Seq = binary.BigEndian.Uint64(k[len(prefix):])
			if err := m.codec.Unmarshal(v, &r.Settlement); err != nil {
				return true, fmt.Errorf("%w: settlement %x: %v", ErrCorrupt, k, err)
			}
			out = append(out, r)
			return len(out) >= limit, nil
		})
		return out, err
	}
	return nil, fmt.Errorf("%w: currency query %q", chain.ErrUnknownMsg, path)
}

func (l *ledger) balanceResult(denom string, a chain.Address) (BalanceResult, error) {
	b, err := l.balance(a, denom)
	if err != nil {
		return BalanceResult{}, err
	}
	r := BalanceResult{Address: a, Denom: denom, Amount: Amount(b.amount)}
	ls, err := l.lots(denom, a, nil)
	for _, lt := range ls {
		r.Lots = append(r.Lots, LotResult{Amount: Amount(lt.amount), Expires: lt.exp})
	}
	return r, err
}
