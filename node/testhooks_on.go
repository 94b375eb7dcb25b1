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
