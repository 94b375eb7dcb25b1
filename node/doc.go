// Package node is the dure executable: the cobra CLI, TOML config, keystore,
// the driver loop that wires consensus, chain and p2p together, the HTTP
// API with its event stream, Prometheus metrics and logging.
package node
