package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/gokeeper/gokeeper/admin"
	"github.com/gokeeper/gokeeper/server"
	"github.com/gokeeper/gokeeper/wire"
)

func serveCmd(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "zoo.cfg (ZooKeeper's keys); without it, ZOO_* environment variables and defaults")
	logJSON := fs.Bool("log-json", false, "log one JSON object per line instead of the console format")
	logLevel := fs.String("log-level", "info", "trace, debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := NewLogger(stderr, *logJSON, *logLevel)
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(*cfgPath, os.Getenv)
	if err != nil {
		return err
	}
	LogConfigNotes(log, cfg.Notes)

	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	srv.Start()

	wo := wire.DefaultOptions()
	wo.MaxBuffer = cfg.JuteMaxBuffer
	wo.MaxClientCnxns = cfg.MaxClientCnxns
	wo.Logger = log
	host := cfg.ClientPortAddress
	addr := net.JoinHostPort(host, strconv.Itoa(cfg.ClientPort))
	ln, err := wire.Listen(addr, srv, wo)
	if err != nil {
		srv.Close()
		return fmt.Errorf("client port: %w", err)
	}
	words := admin.NewFourLetter(srv, ln)
	ln.SetFourLetter(words.Answer)
	log.Info().Str("addr", ln.Addr().String()).Str("mode", "standalone").Msg("serving clients")

	errc := make(chan error, 1)
	go func() { errc <- ln.Serve() }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		log.Info().Str("signal", s.String()).Msg("shutting down")
	case err = <-errc:
		log.Error().Err(err).Msg("client port failed, shutting down")
	}
	ln.Close()
	if cerr := srv.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}
