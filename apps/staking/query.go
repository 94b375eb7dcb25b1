package staking

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/dure-network/dure/chain"
)

// ValidatorInfo is a validator as queries report it.
type ValidatorInfo struct {
	Address     chain.Address `json:"address"`
	PubKey      chain.PubKey  `json:"pub_key"`
	Tokens      uint64        `json:"tokens"`
	SelfStake   uint64        `json:"self_stake"`
	Shares      uint64        `json:"shares"`
	Active      bool          `json:"active"`
	Power       uint64        `json:"power"` // as last reported to consensus; 0 if not active
	Jailed      bool          `json:"jailed"`
	JailedUntil chain.Time    `json:"jailed_until,omitempty"`
	Tombstoned  bool          `json:"tombstoned"`
	Missed      uint64        `json:"missed"` // in the current downtime window
}

// DelegationInfo is one holding; Self marks an operator's own stake.
type DelegationInfo struct {
	Validator chain.Address `json:"validator"`
	Shares    uint64        `json:"shares"`
	Tokens    uint64        `json:"tokens"`
	Self      bool          `json:"self,omitempty"`
}

// UnbondingInfo is a pending release.
type UnbondingInfo struct {
	Validator      chain.Address `json:"validator"`
	Amount         uint64        `json:"amount"`
	CreationHeight uint64        `json:"creation_height"`
	Completion     chain.Time    `json:"completion_time"`
}

// Delegations answers the delegations query.
type Delegations struct {
	Delegator   chain.Address    `json:"delegator"`
	Delegations []DelegationInfo `json:"delegations"`
	Unbonding   []UnbondingInfo  `json:"unbonding"`
}

// Query answers:
//
//	params
//	validators [active=true]   all validators (or only the active set),
//	                           by tokens descending then address
//	validator address=<bech32>
//	delegations delegator=<bech32>
func (m *Module) Query(kv chain.KVReader, path string, args map[string]string) (any, error) {
	s := &store{kv: kv, c: m.codec}
	switch path {
	case "params":
		return s.params()
	case "validators":
		return s.queryValidators(args["active"] == "true")
	case "validator":
		a, err := chain.ParseAddress(args["address"])
		if err != nil {
			return nil, fmt.Errorf("staking validator query: %w", err)
		}
		v, ok, err := s.validator(a)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("staking validator %s: %w", a, chain.ErrNotFound)
		}
		return s.info(a, &v)
	case "delegations":
		a, err := chain.ParseAddress(args["delegator"])
		if err != nil {
			return nil, fmt.Errorf("staking delegations query: %w", err)
		}
		return s.queryDelegations(a)
	}
	return nil, fmt.Errorf("staking query %q: %w", path, chain.ErrNotFound)
}

func (s *store) info(a chain.Address, v *validatorRec) (ValidatorInfo, error) {
	vi := ValidatorInfo{Address: a, PubKey: v.PubKey, Tokens: v.Tokens, SelfStake: v.selfStake(), Shares: v.Shares,
		Jailed: v.Jailed, Tombstoned: v.Tombstoned}
	if v.Jailed && !v.Tombstoned {
		vi.JailedUntil = v.JailedUntil
	}
	var ar activeRec
	ok, err := s.get(activeKey(a), &ar)
	if err != nil {
		return vi, err
	}
	vi.Active, vi.Power = ok, ar.Power
	var si signingInfo
	if _, err := s.get(infoKey(a), &si); err != nil {
		return vi, err
	}
	vi.Missed = si.Missed
	return vi, nil
}

func (s *store) queryValidators(activeOnly bool) ([]ValidatorInfo, error) {
	out := []ValidatorInfo{}
	err := s.kv.Iterate(prefixVal, func(k, b []byte) (bool, error) {
		var v validatorRec
		if err := s.c.Unmarshal(b, &v); err != nil {
			return true, fmt.Errorf("staking: decode validator %x: %w", k, err)
		}
		var a chain.Address
		copy(a[:], k[len(prefixVal):])
		vi, err := s.info(a, &v)
		if err != nil {
			return true, err
		}
		if vi.Active || !activeOnly {
			out = append(out, vi)
		}
		return false, nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Tokens != out[j].Tokens {
			return out[i].Tokens > out[j].Tokens
		}
		return bytes.Compare(out[i].Address[:], out[j].Address[:]) < 0
	})
	return out, err
}

func (s *store) queryDelegations(d chain.Address) (*Delegations, error) {
	out := &Delegations{Delegator: d, Delegations: []DelegationInfo{}, Unbonding: []UnbondingInfo{}}
	v, ok, err := s.validator(d)
	if err != nil {
		return nil, err
	}
	if ok && v.SelfShares > 0 {
		out.Delegations = append(out.Delegations, DelegationInfo{Validator: d, Shares: v.SelfShares, Tokens: v.selfStake(), Self: true})
	}
	var dels []DelegationInfo
	err = s.kv.Iterate(cat(prefixDel, d[:]), func(k, b []byte) (bool, error) {
		var rec delegationRec
		if err := s.c.Unmarshal(b, &rec); err != nil {
			return true, fmt.Errorf("staking: decode delegation %x: %w", k, err)
		}
		var a chain.Address
		copy(a[:], k[len(prefixDel)+chain.AddressLen:])
		dels = append(dels, DelegationInfo{Validator: a, Shares: rec.Shares})
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	for _, di := range dels {
		v, ok, err := s.validator(di.Validator)
		if err != nil {
			return nil, err
		}
		if ok {
			di.Tokens = v.value(di.Shares)
		}
		out.Delegations = append(out.Delegations, di)
	}
	var keys [][]byte
	err = s.kv.Iterate(cat(prefixUbdIdx, d[:]), func(k, _ []byte) (bool, error) {
		rest := k[len(prefixUbdIdx)+chain.AddressLen:]
		keys = append(keys, cat(prefixUnbond, rest))
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		var r unbondingRec
		if _, err := s.get(k, &r); err != nil {
			return nil, err
		}
		out.Unbonding = append(out.Unbonding, UnbondingInfo{Validator: r.Validator, Amount: r.Amount,
			CreationHeight: r.CreationHeight, Completion: r.Completion})
	}
	return out, nil
}
