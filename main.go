// Command dure is a peer-to-peer node for community blockchains.
package main

import "github.com/dure-network/dure/node/cli"

func main() { cli.Main() }
