// Package config is the node's config.toml: its keys, their defaults, and
// the checks that turn a bad file into an error naming the key and the fix.
//
// Default(home) works as is: API on 127.0.0.1:26657 with /metrics, libp2p on
// TCP and QUIC port 26656 with DHT, mDNS, NAT port mapping, hole punching
// and relay client on, consensus timeouts 2s/500ms/500ms (+500ms per round),
// 100ms commit pause, an empty block after 10s idle, and the keyring
// encrypted ("file"). Load reads a file over those defaults, so a config
// that sets one key is complete; Write emits every key with a comment.
//
// Conventions:
//   - Paths are relative to the home directory (the directory holding
//     config.toml) unless absolute; Config.Path and the *Path methods
//     resolve them.
//   - Durations are Go duration strings ("500ms", "1s", "1m30s"); a bare
//     number is rejected, since "timeout = 1" has no safe reading.
//   - Sizes are integers (bytes) or strings with a unit: KB/MB/GB/TB are
//     powers of 1000, KiB/MiB/GiB/TiB powers of 1024.
//   - [storage] keep_recent is how many heights of state history stay
//     queryable (0 = archive); keep_blocks is how many recent blocks are
//     kept (0 = all, so the node can serve peers syncing from genesis).
//     Pruning state never affects the latest state. memory_limit (256MiB by
//     default, 0 = none) is the Go runtime's soft memory limit, set by
//     node.ApplyMemoryLimit when `dure start` runs.
//   - Unknown keys and sections are errors (with a "did you mean"), not
//     silently ignored: a misspelt key would otherwise look applied.
//
// [[subnets]] tables (subnets.go) name subnet chains whose nodes run in the
// same process as this one, each in a home of its own; their keys
// override that home's config.toml, and errors name the entry
// ("entry 2 (garden-coop)") and its line.
//
// Every error about a key is a *FieldError (errors.Is(err, ErrInvalid)),
// rendered like
//
//	config: /home/n/config.toml:14: [consensus] timeout_propose = "-1s": must be a positive duration such as "1s"
//
// Validate reports all problems at once, joined.
package config
