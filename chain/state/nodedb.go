package state

import "sync"

// nodeDB holds the trie nodes that are not (only) in Badger: every node
// created since the last snapshot, live or orphaned, and the bookkeeping
// that lets a snapshot write the live ones and later delete the persisted
// ones that died. Nodes are content addressed, so an encoding found by
// digest is valid whatever its liveness; liveness only decides what to
// write and when memory may be freed.
//
// Invariants, with F the version of the last snapshot and W the proof
// window:
//
//   - Badger at the head holds every node of the trie at F (a snapshot
//     writes all live nodes; persisted nodes are deleted only once they
//     died at or before a later snapshot's version minus W).
//   - mem holds every node created after F that is live, or died less than
//     W versions ago, so a proof at any version in the window finds its
//     nodes in mem or in Badger.
type nodeDB struct {
	mu  sync.RWMutex
	mem map[digest]memNode
	// deaths queues, in version order, the mem nodes each version
	// orphaned, to free them once they leave the proof window.
	deaths []death
	// doomed are persisted nodes that died (digest → version), deleted
	// from Badger by a later snapshot once out of the window.
	doomed map[digest]uint64
	cache  *nodeCache // persisted nodes read or written recently
}

type memNode struct {
	enc  []byte
	died uint64 // version whose commit orphaned it; 0 while live
	// inDB: a copy may also be in Badger (the node was persisted, died and
	// was recreated), so its death must also schedule a Badger delete.
	inDB bool
}

type death struct {
	version uint64
	digests []digest
}

// digest is a trie node's sha2-256 digest, as a map key.
type digest = [hashLen]byte

func newNodeDB(cacheSize int) *nodeDB {
	return &nodeDB{mem: make(map[digest]memNode), doomed: make(map[digest]uint64), cache: newNodeCache(cacheSize)}
}

// get returns a node's encoding from memory (mem or cache).
func (d *nodeDB) get(dg digest) ([]byte, bool) {
	d.mu.RLock()
	m, ok := d.mem[dg]
	d.mu.RUnlock()
	if ok {
		return m.enc, true
	}
	return d.cache.get(dg)
}

// nodeChange is one node operation of a commit: the last one the trie made
// on that digest, and whether it deleted the digest first (an orphaned
// node recreated identically in the same commit).
type nodeChange struct {
	digest  digest
	enc     []byte // nil deletes
	wasDead bool
}

// apply records a committed version's node changes. Caller holds mu.
func (d *nodeDB) apply(version uint64, changes []nodeChange) {
	var died []digest
	for _, c := range changes {
		m, inMem := d.mem[c.digest]
		if c.enc == nil {
			if inMem && m.died == 0 {
				m.died = version
				d.mem[c.digest] = m
				died = append(died, c.digest)
				if m.inDB {
					d.doomed[c.digest] = version
				}
				continue
			}
			d.doomed[c.digest] = version // a persisted node
			continue
		}
		wasDoomed := false
		if len(d.doomed) > 0 {
			if _, wasDoomed = d.doomed[c.digest]; wasDoomed {
				delete(d.doomed, c.digest)
			}
		}
		if inMem {
			if m.died != 0 || wasDoomed && !m.inDB {
				m.died, m.inDB = 0, m.inDB || wasDoomed
				d.mem[c.digest] = m
			}
			continue
		}
		// Not in mem: new, or persisted and recreated (doomed, or deleted
		// and set again within this commit).
		d.mem[c.digest] = memNode{enc: c.enc, inDB: wasDoomed || c.wasDead}
	}
	if len(died) > 0 {
		d.deaths = append(d.deaths, death{version: version, digests: died})
	}
}

// expire frees mem nodes that died at or before version. Caller holds mu.
func (d *nodeDB) expire(version uint64) {
	i := 0
	for ; i < len(d.deaths) && d.deaths[i].version <= version; i++ {
		for _, dg := range d.deaths[i].digests {
			if m, ok := d.mem[dg]; ok && m.died == d.deaths[i].version {
				delete(d.mem, dg)
			}
		}
	}
	d.deaths = d.deaths[i:]
}

// snapshotted moves the live mem nodes (now in Badger) to the cache and
// forgets the persisted nodes the snapshot deleted. Caller holds mu.
func (d *nodeDB) snapshotted(deleted []digest) {
	for dg, m := range d.mem {
		if m.died == 0 {
			d.cache.put(dg, m.enc)
			delete(d.mem, dg)
		}
	}
	for _, dg := range deleted {
		delete(d.doomed, dg)
	}
}
