package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

// TestTrustedParentChecksTheParentChain: a re-trust vote is for a header of
// the subnet's parent chain. A header of another chain (the subnet's own,
// or a neighbour's, whose block id the validator copied by mistake and
// whose node --parent names) passes the id and commit checks, and the
// subnet, which sees no header in a vote, would trust it; the vote is
// refused before it is sent, naming both chains. A real node serves the
// header.
func TestTrustedParentChecksTheParentChain(t *testing.T) {
	home, _ := initHome(t, "retrust-parent")
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := tn.Client.Block(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	trust := fmt.Sprintf("1:%s", b.Header.ID(chain.MustCodec()))
	for _, c := range []struct {
		name, want string
		ok         bool
	}{
		{"the subnet's parent chain", "retrust-parent", true},
		{"any chain (follow --trust: the parent is whatever it names)", "", true},
		{"another chain than the subnet's parent", "garden-parent", false},
	} {
		tg, err := trustedParent(ctx, tn.Client, "garden", trust, c.want)
		switch {
		case c.ok && (err != nil || tg.ParentChainID != "retrust-parent" || tg.Height != 1):
			t.Errorf("%s: %+v, %v", c.name, tg, err)
		case !c.ok && (err == nil || !strings.Contains(err.Error(), "garden-parent") || !strings.Contains(err.Error(), "retrust-parent")):
			t.Errorf("%s: %v, want a refusal naming both chains", c.name, err)
		}
	}
}
