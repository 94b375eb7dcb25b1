// Package testnet runs local dure networks as real processes: it starts N
// `dure start` children of one binary on loopback ports, talks to them only
// through their HTTP API, and perturbs them (SIGKILL and restart,
// SIGSTOP/SIGCONT, partitions through each node's connection gater, late
// joiners). `dure testnet` and the end-to-end tests both use it.
//
// A network directory is made by `dure testnet --generate-only --dir D`:
// D/node0 … D/nodeN-1 are node homes, D/keys is the demo keyring (test
// backend, plaintext: for local development only) and D/testnet.json lists
// the nodes' API and p2p addresses.
//
// Every child gets Pdeathsig, so no node outlives a harness that dies; Stop
// sends SIGTERM, waits, then SIGKILLs what is left.
//
// The package's end-to-end tests (e2e_test.go) build the binary once in
// TestMain and run each fault scenario on its own fresh network, checking
// agreement, proofs and liveness only through the HTTP API: `go test
// ./testnet/` takes about 85 s on two cores; -short runs only the
// agreement-under-load test. A test passes or fails; none is skipped
// for a recorded defect. DURE_E2E_BIN=<path> runs the suite against a given binary instead of
// building one (to bisect; build it with -tags dure_testhooks, which alone
// has the byzantine-validator switch DURE_TEST_DOUBLE_SIGN). A failed test prints the tail of every node's
// log and each node's height and gossip counters, and keeps the full logs
// with goroutine dumps in $TMPDIR/dure-e2e-<test>-*.
package testnet
