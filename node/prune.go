package node

import "github.com/dure-network/dure/node/config"

// storageKeep is how many recent heights the store keeps (0: everything,
// an archive node). Blocks and state versions are pruned together:
//
//   - keep_blocks > 0: the larger of keep_blocks and keep_recent;
//   - keep_blocks = 0 on a validator: everything, so it can serve peers
//     replaying from the first block;
//   - keep_blocks = 0 on a node without a validator key: keep_recent
//     heights (1,000 by default), unless [storage] archive = true. Such a
//     node joins by state sync and needs no history; its disk stays
//     bounded.
func storageKeep(cfg config.Config, validator bool) uint64 {
	s := cfg.Storage
	switch {
	case s.KeepBlocks > 0:
		return max(s.KeepBlocks, s.KeepRecent)
	case validator || s.Archive || s.KeepRecent == 0:
		return 0
	}
	return s.KeepRecent
}
