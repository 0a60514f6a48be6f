package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gokeeper/gokeeper/bench"
)

// benchCmd runs the load generator once with the given flags and prints
// its result as a text line or, with -json, one JSON object.
func benchCmd(args []string, stdout, stderr io.Writer) int {
	cfg, err := bench.ParseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gokeeper bench: %v\n", err)
		return 2
	}
	res, err := bench.Run(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "gokeeper bench: %v\n", err)
		return 1
	}
	if cfg.JSON {
		fmt.Fprintln(stdout, res.JSON())
	} else {
		fmt.Fprintln(stdout, res.String())
	}
	return 0
}
