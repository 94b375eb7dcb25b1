package currency

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/dure-network/dure/chain"
)

// TestPropertySupplyEqualsBalances runs seeded random operation sequences
// over currencies with every rule switched on — expiry, demurrage, caps,
// merchants-only, vouchers that end, time bank — with block time jumping
// across expiries, and checks after every block that each denom's supply is
// the sum of its balances and every balance the sum of its lots.
func TestPropertySupplyEqualsBalances(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if testing.Short() {
		seeds = seeds[:2]
	}
	for _, seed := range seeds {
		t.Run("", func(t *testing.T) { runProperty(t, seed, 120) })
	}
}

func runProperty(t *testing.T, seed uint64, blocks int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	start := int64(1_700_000_000)
	g := localGenesis(start)
	g.Currencies = append(g.Currencies,
		Currency{Denom: "dem", Issuer: city, Rules: Rules{Transfer: TransferFree, HoldingCap: 5000,
			ExpirySeconds: 40 * day, LotSeconds: 3600, DemurrageBP: 250, DemurragePeriod: 5 * day, Redeemable: true}},
		Currency{Denom: "short", Issuer: city, Rules: Rules{Transfer: TransferMerchants, ExpirySeconds: 2 * day,
			LotSeconds: 600, Categories: []string{"food"}, VoucherEnd: chain.UnixSeconds(start + 20*day), Redeemable: true}},
	)
	g.Merchants = append(g.Merchants, GenesisMerchant{Denom: "dem", Address: grocer, Categories: []string{"food"}},
		GenesisMerchant{Denom: "short", Address: grocer, Categories: []string{"food"}})
	h := newHarness(t, Params{MaxExpiryPerBlock: 5}, g)
	users := []chain.Address{alice, bob, carol, stranger, addr(40), addr(41)}
	merchants := []chain.Address{grocer, school, suspended}
	denoms := []string{"nw", "food", "tb", "free", "dem", "short", "dure"}
	pick := func(xs []chain.Address) chain.Address { return xs[rng.IntN(len(xs))] }
	amount := func() uint64 {
		if rng.IntN(10) == 0 {
			return uint64(rng.Uint64()) // overflow attempts
		}
		return uint64(rng.IntN(3000))
	}
	c := h.codec
	var ok, rejected int
	for b := 0; b < blocks; b++ {
		for i := rng.IntN(12); i > 0; i-- {
			d := denoms[rng.IntN(len(denoms))]
			var sender chain.Address
			var msg chain.Msg
			var err error
			switch rng.IntN(9) {
			case 0, 1:
				sender = pick(users)
				msg, err = MsgSend(c, pick(append(users, merchants...)), d, amount())
			case 2, 3:
				sender = pick(users)
				msg, err = MsgPay(c, pick(merchants), d, amount(), []string{"", "food", "education"}[rng.IntN(3)])
			case 4:
				sender = []chain.Address{city, minter, stranger}[rng.IntN(3)]
				msg, err = MsgMint(c, d, pick(append(users, merchants...)), amount())
			case 5:
				sender = []chain.Address{coord, city, stranger}[rng.IntN(3)]
				msg, err = MsgConfirmHours(c, d, pick(users), uint32(rng.IntN(5)), uint32(rng.IntN(60)))
			case 6:
				sender = pick(merchants)
				msg, err = MsgRedeem(c, d, amount(), "ref")
			case 7:
				sender = pick(users)
				msg, err = MsgBurn(c, d, amount())
			case 8:
				sender = city
				msg, err = MsgSend(c, pick(users), d, amount())
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := h.deliver(sender, msg); err != nil {
				rejected++
				if chain.ResultCode(err) == chain.CodeInternal {
					t.Fatalf("seed %d block %d: %s gave an unclassified error: %v", seed, b, msg.Type, err)
				}
			} else {
				ok++
			}
		}
		// Time jumps: usually a few seconds, sometimes days, sometimes a year.
		dt := int64(5)
		switch r := rng.IntN(20); {
		case r == 0:
			dt = yearSec
		case r < 6:
			dt = int64(1+rng.IntN(4)) * day
		}
		h.endBlock(dt)
		if err := h.checkInvariants(); err != nil {
			t.Fatalf("seed %d after block %d: %v", seed, b, err)
		}
	}
	// Drain queues: with enough blocks, every due lot expires.
	h.now += 10 * yearSec
	for i := 0; i < 200; i++ {
		h.endBlock(1)
	}
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"nw", "dem", "short"} {
		if s := h.supply(d); s != 0 {
			t.Errorf("seed %d: %s supply %d after all lots expired", seed, d, s)
		}
	}
	if ok == 0 || rejected == 0 {
		t.Fatalf("seed %d: %d accepted, %d rejected: the sequence exercised nothing", seed, ok, rejected)
	}
}

var _ = errors.Is
