//go:build dure_testhooks

package node

import (
	"log/slog"
	"os"
)

// testDoubleSign makes this validator equivocate when
// DURE_TEST_DOUBLE_SIGN=1, in binaries built with -tags dure_testhooks
// (the end-to-end tests build theirs so). In-process tests set
// Node.doubleSign directly.
func testDoubleSign(log *slog.Logger) bool {
	if os.Getenv("DURE_TEST_DOUBLE_SIGN") != "1" {
		return false
	}
	log.Warn("DURE_TEST_DOUBLE_SIGN=1: this validator will sign conflicting votes and be slashed (tests only)")
	return true
}

// testSnapshotLie makes this node serve forged state-sync chunks (one
// value changed) and offer a height a little above its head, so joiners
// try it first, when DURE_TEST_SNAPSHOT_LIE=1.
func testSnapshotLie(log *slog.Logger) bool {
	if os.Getenv("DURE_TEST_SNAPSHOT_LIE") != "1" {
		return false
	}
	log.Warn("DURE_TEST_SNAPSHOT_LIE=1: this node serves forged state-sync snapshots (tests only)")
	return true
}
