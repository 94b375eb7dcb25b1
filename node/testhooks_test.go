//go:build !dure_testhooks

package node

import (
	"context"
	"log/slog"
	"testing"

	"github.com/dure-network/dure/node/keystore"
)

// A production build ignores the end-to-end tests' byzantine switch.
func TestProductionIgnoresDoubleSignSwitch(t *testing.T) {
	t.Setenv("DURE_TEST_DOUBLE_SIGN", "1")
	_, cfg := initHome(t, "hooks-1")
	ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ks.Signer(cfg.PrivValidatorKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), key)
	if err != nil {
		t.Fatal(err)
	}
	defer n.closeStorage()
	if n.doubleSign {
		t.Fatal("DURE_TEST_DOUBLE_SIGN=1 turned a production node byzantine")
	}
}
