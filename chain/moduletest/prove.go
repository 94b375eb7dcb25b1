package moduletest

import "github.com/dure-network/dure/chain/state"

// Prove returns the committed value of a full state key (module prefix
// included; nil when absent) and its proof against StateRoot, checked
// before it is returned: what another chain is given to verify this
// one's state (apps/subnet's escape withdrawals).
func (h *Harness) Prove(key []byte) ([]byte, *state.Proof) {
	h.t.Helper()
	version, root := h.st.Head()
	v, err := h.st.Reader(version).Get(key)
	if err != nil {
		h.t.Fatal(err)
	}
	p, err := h.st.Prove(version, key)
	if err != nil {
		h.t.Fatalf("prove %q: %v", key, err)
	}
	if err := state.VerifyProof(root, key, v, p); err != nil {
		h.t.Fatalf("proof of %q does not verify: %v", key, err)
	}
	return v, p
}
