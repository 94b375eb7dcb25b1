package state

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/dure-network/dure/chain"
)

// Errors of Proven.
var (
	// ErrUnproven: a read of a key, or a step of a range, that no added
	// proof establishes.
	ErrUnproven = errors.New("state: not proven")
)

// ListStatus is what a proof established about one Iterate over a Proven.
type ListStatus uint8

// List statuses.
const (
	// ListComplete: every key under the prefix was visited.
	ListComplete ListStatus = iota
	// ListPage: the caller stopped; the keys visited are the first ones
	// under the prefix, with none left out, and at least one more follows.
	ListPage
	// ListPageEnd: the caller stopped at a key whose successor is not
	// proven (the keys visited are still the first ones, none left out).
	ListPageEnd
	// ListUnindexed: the state has no key-order index; the keys visited
	// are proven values, but others may exist.
	ListUnindexed
)

// List records one Iterate over a Proven.
type List struct {
	Prefix  []byte
	Entries int
	Status  ListStatus
}

// Proven is committed state as far as proofs establish it: a read-only
// chain.KVReader made only of (key, value) facts verified against one
// root. Get answers only for proven keys. Iterate follows proven next-key
// records (see ProveRange), so it visits exactly the committed keys under
// a prefix, in order, or fails with ErrUnproven where a record or a value
// is missing: a node that leaves a key out of a list, adds one, or claims
// the list ends early cannot produce the records that would say so.
//
// It is not safe for concurrent use.
type Proven struct {
	root      chain.Hash
	vals      map[string][]byte // nil: proven absent
	links     map[string][]byte // key ("" the head) → next key (nil: none)
	sources   []string          // sorted keys of links; nil when stale
	keys      []string          // sorted proven-present keys; nil when stale
	unindexed bool
	lists     []List
}

// NewProven starts an empty Proven for root.
func NewProven(root chain.Hash) *Proven {
	return &Proven{root: root, vals: map[string][]byte{}, links: map[string][]byte{}}
}

// Add verifies one fact against the root (a trie key as a KeyProof names
// it: a state key, or a next-key record's LinkKey) and records it. A value
// nil or empty means absent.
func (p *Proven) Add(key, value []byte, proof *Proof) error {
	if err := VerifyProof(p.root, key, value, proof); err != nil {
		return fmt.Errorf("proof for %q: %w", key, err)
	}
	return p.add(key, value)
}

// add records a verified fact.
func (p *Proven) add(key, value []byte) error {
	if len(value) == 0 {
		value = nil
	}
	if of, ok := IsLinkKey(key); ok {
		if value == nil {
			if of == nil {
				p.unindexed = true
			}
			return nil // an absent record of a non-key tells nothing more
		}
		next, err := DecodeLink(value)
		if err != nil {
			return fmt.Errorf("record of %q: %w", of, err)
		}
		if next != nil && of != nil && bytes.Compare(next, of) <= 0 {
			return fmt.Errorf("%w: record of %q names %q, not a later key", ErrBadLink, of, next)
		}
		if _, dup := p.links[string(of)]; !dup {
			p.sources = nil
		}
		p.links[string(of)] = bytes.Clone(next)
		return nil
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if old, dup := p.vals[string(key)]; dup && !bytes.Equal(old, value) {
		return fmt.Errorf("%w: two values for %q", chain.ErrBadProof, key)
	} else if !dup && value != nil {
		p.keys = nil
	}
	p.vals[string(key)] = bytes.Clone(value)
	return nil
}

// Get returns the proven value of key (nil: proven absent), or
// ErrUnproven.
func (p *Proven) Get(key []byte) ([]byte, error) {
	v, ok := p.vals[string(key)]
	if !ok {
		return nil, fmt.Errorf("%w: key %q", ErrUnproven, key)
	}
	return bytes.Clone(v), nil
}

// Iterate visits the keys under prefix in ascending order as the proven
// next-key records chain them, from the record of the greatest proven
// link before prefix (or the head's). Every step must be proven: a
// missing record or value is ErrUnproven. On a state proven to have no
// index it visits the proven keys under prefix and records the list as
// ListUnindexed. Each call is recorded in Lists.
func (p *Proven) Iterate(prefix []byte, fn func(key, value []byte) (bool, error)) error {
	pre := string(prefix)
	list := List{Prefix: bytes.Clone(prefix)}
	if p.unindexed {
		list.Status = ListUnindexed
		err := p.iterateUnindexed(pre, fn, &list)
		p.lists = append(p.lists, list)
		return err
	}
	cur, ok := p.start(pre)
	if !ok {
		return fmt.Errorf("%w: no record before the range %q", ErrUnproven, prefix)
	}
	for {
		next, ok := p.links[cur]
		if !ok {
			if list.Status == ListPageEnd {
				break // stopped at cur, whose successor is not proven
			}
			return fmt.Errorf("%w: range %q past %q", ErrUnproven, prefix, cur)
		}
		if list.Status == ListPageEnd {
			// The caller stopped at cur: the record says whether more follow.
			if next != nil && strings.HasPrefix(string(next), pre) {
				list.Status = ListPage
			} else {
				list.Status = ListComplete
			}
			break
		}
		if next == nil {
			list.Status = ListComplete
			break
		}
		k := string(next)
		if k < pre {
			cur = k // a record before the range: keep walking
			continue
		}
		if !strings.HasPrefix(k, pre) {
			list.Status = ListComplete
			break
		}
		v, ok := p.vals[k]
		if !ok {
			return fmt.Errorf("%w: value of %q, listed under %q", ErrUnproven, next, prefix)
		}
		if v == nil {
			return fmt.Errorf("%w: %q is listed under %q but proven absent", chain.ErrBadProof, next, prefix)
		}
		list.Entries++
		stop, err := fn([]byte(k), bytes.Clone(v))
		if err != nil {
			return err
		}
		cur = k
		if stop {
			list.Status = ListPageEnd
		}
	}
	p.lists = append(p.lists, list)
	return nil
}

// start is the greatest proven record source below pre ("" is the head,
// below everything; for the empty prefix only the head will do).
func (p *Proven) start(pre string) (string, bool) {
	if pre == "" {
		_, ok := p.links[""]
		return "", ok
	}
	if p.sources == nil {
		p.sources = make([]string, 0, len(p.links))
		for k := range p.links {
			p.sources = append(p.sources, k)
		}
		sort.Strings(p.sources)
	}
	i := sort.SearchStrings(p.sources, pre) // first source >= pre
	if i == 0 {
		return "", false
	}
	return p.sources[i-1], true
}

func (p *Proven) iterateUnindexed(pre string, fn func(key, value []byte) (bool, error), list *List) error {
	if p.keys == nil {
		p.keys = make([]string, 0, len(p.vals))
		for k, v := range p.vals {
			if v != nil {
				p.keys = append(p.keys, k)
			}
		}
		sort.Strings(p.keys)
	}
	for i := sort.SearchStrings(p.keys, pre); i < len(p.keys) && strings.HasPrefix(p.keys[i], pre); i++ {
		k := p.keys[i]
		list.Entries++
		stop, err := fn([]byte(k), bytes.Clone(p.vals[k]))
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// Lists returns what each Iterate so far established, in call order.
func (p *Proven) Lists() []List { return p.lists }

// Unindexed reports whether the head record was proven absent.
func (p *Proven) Unindexed() bool { return p.unindexed }

// DescribeLists sums up Lists for people: "" when nothing was iterated.
func DescribeLists(lists []List) string {
	var complete, pages, unindexed, entries int
	for _, l := range lists {
		entries += l.Entries
		switch l.Status {
		case ListComplete:
			complete++
		case ListPage, ListPageEnd:
			pages++
		case ListUnindexed:
			unindexed++
		}
	}
	switch {
	case len(lists) == 0:
		return ""
	case unindexed > 0:
		return fmt.Sprintf("list completeness NOT proven (%d list(s), %d entries): this chain's state has no key-order index (its genesis predates range proofs)", len(lists), entries)
	case pages == 0:
		return fmt.Sprintf("%d list(s) proven complete by next-key records (%d entries in all, none left out)", complete, entries)
	}
	return fmt.Sprintf("%d list(s) proven complete and %d proven to be the first entries of a longer list (a page; %d entries, none left out before the last shown)", complete, pages, entries)
}
