//go:build !linux

package cli

// exitWithParent is Linux-only; elsewhere the testnet stops on Ctrl-C.
func exitWithParent() {}
