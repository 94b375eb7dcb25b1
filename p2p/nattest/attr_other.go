//go:build !linux

package nattest

import "syscall"

// childAttr: namespaces exist only on Linux; elsewhere Available fails
// first, this only keeps the package building.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
