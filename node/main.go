package node

import "os"

// Main runs the CLI and exits with its status.
func Main() { os.Exit(Run(os.Args[1:])) }

// Run executes the CLI with args and returns the exit code.
func Run(args []string) int { return 0 }
