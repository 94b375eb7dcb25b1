package cli

import (
	"fmt"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/node"
)

// moduleNamed is the registry's module called name (node.Modules).
func moduleNamed(name string) (chain.Module, bool) {
	for _, m := range node.Modules() {
		if m.Name() == name {
			return m, true
		}
	}
	return nil, false
}

// bankModule is the module answering account balances
// (chain.AccountReporter), the first in registry order, as the node finds
// it; ok is false on a chain without one.
func bankModule() (bank chain.AccountReporter, name string, ok bool) {
	for _, m := range node.Modules() {
		if b, is := m.(chain.AccountReporter); is {
			return b, m.Name(), true
		}
	}
	return nil, "", false
}

// prefixReader is a module's view of a reader: the module's keys live
// under "<module>/".
type prefixReader struct {
	r      chain.KVReader
	prefix []byte
}

func (p *prefixReader) full(k []byte) []byte {
	return append(append([]byte{}, p.prefix...), k...)
}

func (p *prefixReader) Get(k []byte) ([]byte, error) { return p.r.Get(p.full(k)) }

func (p *prefixReader) Iterate(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	return p.r.Iterate(p.full(prefix), func(k, v []byte) (bool, error) {
		return fn(k[len(p.prefix):], v)
	})
}

// nonceKey is the executor's nonce key for addr (see execution.Nonce).
func nonceKey(a chain.Address) []byte {
	return append([]byte(execution.AuthPrefix+"n/"), a[:]...)
}

// ibytes renders a size for people: "3.25 MiB".
func ibytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit && exp < 5; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}
