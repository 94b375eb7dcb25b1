package royalty

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dure-network/dure/chain"
)

// TestLargestRemainderProperty: parts always sum exactly to the total and
// each is its exact share rounded down or up.
func TestLargestRemainderProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		n := 1 + r.IntN(12)
		w := make([]uint64, n)
		var sum uint64
		for j := range w {
			switch r.IntN(4) {
			case 0:
				w[j] = 0
			case 1:
				w[j] = 1 + r.Uint64N(10)
			default:
				w[j] = r.Uint64N(1 << 40)
			}
			sum += w[j]
		}
		if sum == 0 {
			w[0], sum = 1, 1
		}
		total := r.Uint64()
		if r.IntN(2) == 0 {
			total = r.Uint64N(1000)
		}
		parts, err := largestRemainder(total, w)
		if err != nil {
			t.Fatal(err)
		}
		var got uint64
		for j, p := range parts {
			got += p
			lo := new(bigU).mul(total, w[j]).div(sum)
			if p != lo && p != lo+1 {
				t.Fatalf("part %d = %d, exact share floor %d", j, p, lo)
			}
			if w[j] == 0 && p != 0 {
				t.Fatalf("zero weight got %d", p)
			}
		}
		if got != total {
			t.Fatalf("parts of %d over %v sum to %d", total, w, got)
		}
	}
}

// randomWorld builds random splits (some nested), works with random
// waterfalls, and returns the payable targets and the account-held splits.
func randomWorld(t *testing.T, h *harness, r *rand.Rand) (targets, splits []string) {
	accts := []chain.Address{alice, bob, carol, dave, fan, fan2, label, stranger}
	randHolders := func(nested []string) []Holder {
		n := 1 + r.IntN(6)
		perm := r.Perm(len(accts))
		var hs []Holder
		for i := 0; i < n && i < len(perm); i++ {
			hs = append(hs, Holder{Account: accts[perm[i]]})
		}
		for _, id := range nested {
			hs = append(hs, Holder{Split: id})
		}
		// Random units summing to exactly 10^6, every holder at least 1.
		left := uint64(TotalUnits) - uint64(len(hs))
		for i := range hs {
			if i == len(hs)-1 {
				hs[i].Units = 1 + left
				break
			}
			u := r.Uint64N(left + 1)
			if r.IntN(3) == 0 {
				u = r.Uint64N(min(left, 7) + 1)
			}
			hs[i].Units = 1 + u
			left -= u
		}
		return hs
	}
	for i := 0; i < 4; i++ {
		id := fmt.Sprintf("s%d", i)
		var nested []string
		for _, sid := range splits {
			if r.IntN(3) == 0 && len(nested) < 2 {
				nested = append(nested, sid)
			}
		}
		if err := h.deliver(alice, h.msg(MsgCreateSplit(h.codec, id, randHolders(nested)))); err != nil {
			if isErr(err, ErrTooDeep) {
				continue
			}
			t.Fatalf("split %s: %v", id, err)
		}
		splits = append(splits, id)
	}
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("w%d", i)
		var nested []string
		if r.IntN(2) == 0 && len(splits) > 0 {
			nested = append(nested, splits[r.IntN(len(splits))])
		}
		reg := Register{ID: id, CID: cid, Denoms: []string{"krw", "usdc"}, Holders: randHolders(nested), ResaleBps: uint32(r.IntN(1001))}
		if r.IntN(2) == 0 {
			reg.Denoms = []string{"krw"}
			th := uint64(0)
			for k := 0; k < 1+r.IntN(3); k++ {
				th += 1 + r.Uint64N(5000)
				reg.Waterfall = append(reg.Waterfall, Tranche{Account: accts[r.IntN(len(accts))], Threshold: th})
			}
			reg.Waterfall = append(reg.Waterfall, Tranche{Split: id})
		}
		if err := h.deliver(alice, h.msg(MsgRegister(h.codec, reg))); err != nil {
			if isErr(err, ErrTooDeep) {
				continue
			}
			t.Fatalf("work %s: %v", id, err)
		}
		targets = append(targets, id)
		splits = append(splits, id)
	}
	return append(targets, splits[:min(2, len(splits))]...), splits
}

// TestPropertyRandomWorld: random splits, nestings, waterfalls, payments,
// transfers, sales and claims; after every step the accumulator invariant
// holds exactly (paid in = claimed + claimable + carried, per split and
// denom), the pool holds exactly what is owed, and a claim pays exactly
// what was claimable.
func TestPropertyRandomWorld(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 8
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 77))
			h := newHarness(t, ptr(testRegistry()))
			targets, splits := randomWorld(t, h, r)
			accts := []chain.Address{alice, bob, carol, dave, fan, fan2, label, stranger}
			for step := 0; step < 150; step++ {
				switch k := r.IntN(10); {
				case k < 5:
					amt := 1 + r.Uint64N(3)
					if r.IntN(3) == 0 {
						amt = 1 + r.Uint64N(1_000_000_007)
					}
					// usdc has 6 decimals: one unit is a millionth of a dollar.
					denom := []string{"krw", "usdc"}[r.IntN(2)]
					err := h.deliver(melon, h.msg(MsgPay(h.codec, targets[r.IntN(len(targets))], denom, amt, "")))
					if err != nil && !isErr(err, ErrBadDenom) {
						t.Fatal(err)
					}
				case k < 7:
					sp, from, to := splits[r.IntN(len(splits))], accts[r.IntN(len(accts))], accts[r.IntN(len(accts))]
					u := h.units(sp, from)
					if u == 0 || from == to {
						continue
					}
					n := 1 + r.Uint64N(u)
					if err := h.deliver(from, h.msg(MsgTransfer(h.codec, sp, to, n))); err != nil && !isErr(err, ErrNoShares) {
						t.Fatal(err)
					}
				case k < 9:
					sp, who, denom := splits[r.IntN(len(splits))], accts[r.IntN(len(accts))], []string{"krw", "usdc"}[r.IntN(2)]
					want := h.claimable(sp, who, denom)
					before := h.bal(who, denom)
					err := h.deliver(who, h.msg(MsgClaim(h.codec, sp, denom)))
					if want == 0 {
						if !isErr(err, ErrNothingToClaim) {
							t.Fatalf("claim of nothing: %v", err)
						}
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					if got := h.bal(who, denom) - before; got != want {
						t.Fatalf("claimed %d, claimable was %d", got, want)
					}
				default:
					sp, seller, buyer := splits[r.IntN(len(splits))], accts[r.IntN(len(accts))], accts[r.IntN(len(accts))]
					u := h.units(sp, seller)
					if u == 0 || seller == buyer {
						continue
					}
					n := 1 + r.Uint64N(u)
					if err := h.deliver(seller, h.msg(MsgSell(h.codec, sp, n, "krw", 1+r.Uint64N(50)))); err != nil {
						if isErr(err, ErrNoShares) {
							continue
						}
						t.Fatal(err)
					}
					o := h.mustQuery("orders", nil).([]Order)
					if err := h.deliver(buyer, h.msg(MsgBuy(h.codec, o[len(o)-1].ID, 1+r.Uint64N(n)))); err != nil {
						t.Fatal(err)
					}
				}
				if err := h.checkInvariants(); err != nil {
					t.Fatalf("step %d (last msg %v): %v", step, h.lastMsg, err)
				}
			}
		})
	}
}

// TestPropertyOrderIndependent: the same payments applied in any order
// (within a block, no transfers between) leave every holder exactly the
// same claimable amounts.
func TestPropertyOrderIndependent(t *testing.T) {
	for seed := 0; seed < 10; seed++ {
		r := rand.New(rand.NewPCG(uint64(seed), 5))
		var pays []uint64
		var tgt []int
		for i := 0; i < 40; i++ {
			pays = append(pays, 1+r.Uint64N(100_000))
			tgt = append(tgt, r.IntN(5))
		}
		perm := r.Perm(len(pays))
		var results [2][]uint64
		for run := 0; run < 2; run++ {
			h := newHarness(t, ptr(testRegistry()))
			wr := rand.New(rand.NewPCG(uint64(seed), 9)) // the same world both runs
			targets, splits := randomWorld(t, h, wr)
			for i := range pays {
				j := i
				if run == 1 {
					j = perm[i]
				}
				h.must(fan, h.msg(MsgPay(h.codec, targets[tgt[j]%len(targets)], "krw", pays[j], "")))
			}
			for _, sp := range splits {
				for _, a := range []chain.Address{alice, bob, carol, dave, fan, fan2, label, stranger} {
					results[run] = append(results[run], h.claimable(sp, a, "krw"))
				}
			}
		}
		if !slices.Equal(results[0], results[1]) {
			t.Fatalf("seed %d: claimable amounts depend on payment order", seed)
		}
	}
}
