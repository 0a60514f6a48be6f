package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"

	"github.com/rs/zerolog"
)

// startPprof serves net/http/pprof on addr (serve --pprof) for profiling
// under load, with mutex and block profiling switched on. It is meant for
// benchmarks: the endpoints are unauthenticated, so bind it to loopback.
func startPprof(addr string, log zerolog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// NB: sample 1 in 100 contention events and block events of 10µs or
	// more; recording every one would itself slow the server down.
	runtime.SetMutexProfileFraction(100)
	runtime.SetBlockProfileRate(10000)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info().Str("addr", ln.Addr().String()).Msg("serving pprof")
	go http.Serve(ln, mux)
	return nil
}
