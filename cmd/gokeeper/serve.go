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
	"time"

	"github.com/rs/zerolog"

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
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (loopback; for benchmarks)")
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
	wo := wire.DefaultOptions()
	ports, portNotes, err := clientPorts(cfg, &wo)
	if err != nil {
		return err
	}
	quorumNotes, err := quorumSecurity(&cfg, log)
	if err != nil {
		return err
	}
	LogConfigNotes(log, append(append(cfg.Notes, portNotes...), quorumNotes...))
	if cfg.QuorumSecurity != nil {
		log.Info().Bool("sslQuorum", cfg.SSLQuorum).Bool("portUnification", cfg.PortUnification).
			Bool("quorumSasl", cfg.QuorumEnableSASL).Msg("quorum links secured")
	}
	if *pprofAddr != "" {
		if err := startPprof(*pprofAddr, log); err != nil {
			return err
		}
	}

	if os.Getenv("GOGC") == "" {
		go tuneGC(time.Second)
	}
	srv, err := server.NewOnFS(cfg, log, storeFS())
	if err != nil {
		return err
	}
	srv.Start()

	wo.MaxBuffer = cfg.JuteMaxBuffer
	wo.MaxClientCnxns = cfg.MaxClientCnxns
	wo.MaxCnxns = cfg.MaxCnxns
	wo.Logger = log
	ln, err := wire.ListenPorts(srv, wo, ports...)
	if err != nil {
		srv.Close()
		return fmt.Errorf("client port: %w", err)
	}
	adm := admin.New(srv, ln, log)
	adm.ConfigPath = *cfgPath
	ln.SetFourLetter(adm.FourLetter().Answer)
	for i, a := range ln.Addrs() {
		ev := log.Info().Str("addr", a.String()).Bool("ensemble", cfg.Distributed())
		if ports[i].TLS != nil {
			ev.Str("client_auth", ports[i].TLS.ClientAuth.String()).Msg("serving TLS clients")
		} else {
			ev.Msg("serving clients")
		}
	}

	errc := make(chan error, 3)
	go func() { errc <- ln.Serve() }()
	https, err := startAdminEndpoints(cfg, adm, log, errc)
	if err != nil {
		ln.Close()
		srv.Close()
		return err
	}
	defer func() {
		for _, h := range https {
			h.Close()
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		log.Info().Str("signal", s.String()).Msg("shutting down")
	case err = <-errc:
		log.Error().Err(err).Msg("client port or admin endpoint failed, shutting down")
	}
	ln.Close()
	if cerr := srv.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// startAdminEndpoints starts the AdminServer (admin.enableServer, on
// admin.serverAddress:admin.serverPort) and, when metricsProvider.className
// names ZooKeeper's Prometheus provider, the /metrics endpoint on
// metricsProvider.httpHost:httpPort. Their Serve errors go to errc.
func startAdminEndpoints(cfg server.Config, adm *admin.Admin, log zerolog.Logger, errc chan<- error) ([]*admin.HTTPServer, error) {
	var out []*admin.HTTPServer
	closeAll := func() {
		for _, h := range out {
			h.Close()
		}
	}
	if cfg.AdminEnableServer {
		addr := net.JoinHostPort(cfg.AdminServerAddress, strconv.Itoa(cfg.AdminServerPort))
		h, err := adm.ListenAdminServer(addr, cfg.AdminCommandURL, time.Duration(cfg.AdminIdleTimeoutMs)*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("admin server: %w", err)
		}
		out = append(out, h)
		go func() { errc <- h.Serve() }()
		log.Info().Str("addr", h.Addr().String()).Str("url", cfg.AdminCommandURL).Msg("admin server started")
	}
	if admin.PrometheusEnabled(cfg) {
		addr := net.JoinHostPort(cfg.MetricsProviderHTTPHost, strconv.Itoa(cfg.MetricsProviderHTTPPort))
		h, err := adm.ListenMetrics(addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("metrics provider: %w", err)
		}
		out = append(out, h)
		go func() { errc <- h.Serve() }()
		log.Info().Str("addr", h.Addr().String()).Msg("prometheus metrics at /metrics")
	}
	return out, nil
}
