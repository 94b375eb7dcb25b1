//go:build !linux

package node

// exitWithParent is Linux-only; elsewhere the testnet stops on Ctrl-C.
func exitWithParent() {}
