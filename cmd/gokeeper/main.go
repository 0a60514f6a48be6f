// Command gokeeper is a ZooKeeper-compatible server.
//
//	gokeeper serve [--config zoo.cfg] [--log-json] [--log-level info]
//	gokeeper status [--config zoo.cfg]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `usage: gokeeper <command> [flags]

commands:
  serve    run a server (reads ZooKeeper's zoo.cfg)
  status   ask the configured server for its mode, like zkServer.sh status
  import   read an Apache ZooKeeper data dir into a gokeeper data dir
  export   write a gokeeper data dir as an Apache ZooKeeper data dir
  bench    load-generate against servers and print throughput and latency

run 'gokeeper <command> -h' for its flags
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = serveCmd(args, stderr)
	case "status":
		return statusCmd(args, stdout, stderr)
	case "import":
		err = importCmd(args, stderr)
	case "export":
		err = exportCmd(args, stderr)
	case "bench":
		return benchCmd(args, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gokeeper: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gokeeper %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func statusCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "zoo.cfg to read the client port from")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := LoadConfig(*cfgPath, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "gokeeper status: %v\n", err)
		return 1
	}
	return Status(cfg, stdout)
}
