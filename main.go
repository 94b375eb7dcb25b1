// Command dure is a peer-to-peer node for community blockchains.
package main

import "github.com/dure-network/dure/node"

func main() { node.Main() }
