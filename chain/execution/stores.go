package execution

import (
	"fmt"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/state"
)

// opener hands modules their prefixed, metered stores on one branch. Only
// keys given to the executor at construction open anything. A key opens
// the same store each time (a message's code opens its store once per
// helper call): prefix and key buffer are made once per opener.
type opener struct {
	br   *state.Branch
	gas  *chain.GasMeter
	keys map[*chain.StoreKey][]byte // the registered keys' prefixes, "name/"
	// first is the first store opened (a transfer opens only one), in
	// the opener's own allocation; opened holds any others.
	first  moduleStore
	opened []*moduleStore
}

func (o *opener) Open(key *chain.StoreKey) chain.KVStore {
	prefix, ok := o.keys[key]
	if key == nil || !ok {
		return deniedStore{key}
	}
	if o.first.skey == key {
		return &o.first
	}
	for _, s := range o.opened {
		if s.skey == key {
			return s
		}
	}
	s := &o.first
	if o.first.skey != nil {
		s = &moduleStore{}
		o.opened = append(o.opened, s)
	}
	*s = moduleStore{br: o.br, prefix: prefix, gas: o.gas, skey: key}
	s.buf = s.inline[:0]
	return s
}

// moduleStore confines a module to its prefix and charges gas for every
// access (a nil meter charges nothing: genesis, fees, EndBlock).
type moduleStore struct {
	br     *state.Branch
	prefix []byte // shared, never written
	gas    *chain.GasMeter
	skey   *chain.StoreKey
	// buf holds the full key of one Get, Set or Delete: the branch copies
	// what it keeps, so the buffer is reused.
	buf    []byte
	inline [64]byte
}

// key is prefix+k in s.buf, valid until the next call.
func (s *moduleStore) key(k []byte) []byte {
	s.buf = append(append(s.buf[:0], s.prefix...), k...)
	return s.buf
}

func (s *moduleStore) Get(k []byte) ([]byte, error) {
	if err := s.gas.Consume(chain.GasPerRead, "read"); err != nil {
		return nil, err
	}
	v, err := s.br.Get(s.key(k))
	if err != nil {
		return nil, err
	}
	if err := s.gas.Consume(chain.GasPerReadByte*uint64(len(v)), "read bytes"); err != nil {
		return nil, err
	}
	return v, nil
}

func (s *moduleStore) Set(k, v []byte) error {
	if err := s.gas.Consume(chain.GasPerWrite+chain.GasPerWriteByte*uint64(len(k)+len(v)), "write"); err != nil {
		return err
	}
	return s.br.Set(s.key(k), v)
}

func (s *moduleStore) Delete(k []byte) error {
	if err := s.gas.Consume(chain.GasPerWrite, "delete"); err != nil {
		return err
	}
	return s.br.Delete(s.key(k))
}

func (s *moduleStore) Iterate(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	n := len(s.prefix)
	full := make([]byte, 0, n+len(prefix)) // fn may call Get, which reuses buf
	full = append(append(full, s.prefix...), prefix...)
	return s.br.Iterate(full, func(k, v []byte) (bool, error) {
		if err := s.gas.Consume(chain.GasPerIterStep+chain.GasPerReadByte*uint64(len(v)), "iterate"); err != nil {
			return true, err
		}
		return fn(k[n:], v)
	})
}

// deniedStore is what an unregistered key opens: every access fails.
type deniedStore struct{ key *chain.StoreKey }

func (d deniedStore) err() error {
	name := "<nil>"
	if d.key != nil {
		name = d.key.Name()
	}
	return fmt.Errorf("%w: store key %q is not registered with the executor", chain.ErrUnauthorized, name)
}

func (d deniedStore) Get([]byte) ([]byte, error) { return nil, d.err() }
func (d deniedStore) Set(_, _ []byte) error      { return d.err() }
func (d deniedStore) Delete([]byte) error        { return d.err() }
func (d deniedStore) Iterate([]byte, func(k, v []byte) (bool, error)) error {
	return d.err()
}
