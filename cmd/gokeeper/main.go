// Command gokeeper is a ZooKeeper-compatible server.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "usage: gokeeper serve --config zoo.cfg")
	os.Exit(2)
}
