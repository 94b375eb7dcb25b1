//go:build !dure_testhooks

package node

import "log/slog"

// testDoubleSign is the byzantine-validator switch of the end-to-end tests.
// A production build has none: only a binary built with -tags
// dure_testhooks (testhooks_on.go) reads DURE_TEST_DOUBLE_SIGN.
func testDoubleSign(*slog.Logger) bool { return false }
