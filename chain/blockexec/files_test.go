package blockexec

import "os"

// The stash's files in tests: plain files (the node uses the WAL's
// checksummed framing).
func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }
func readFile(path string) ([]byte, error)     { return os.ReadFile(path) }
