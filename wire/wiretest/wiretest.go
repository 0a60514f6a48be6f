// Package wiretest starts gokeeper servers on loopback ports for tests, as
// net/http/httptest does for HTTP servers.
package wiretest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/server"
	"github.com/gokeeper/gokeeper/wire"
)

// Server is a running gokeeper server with its client port on 127.0.0.1.
type Server struct {
	Config   server.Config
	Server   *server.Server
	Listener *wire.Listener
	Addr     string // host:port of the client port

	stopOnce sync.Once
}

// Start starts a server with its data in dir (a new temp dir if empty),
// test settings (tickTime 200 ms, every four-letter word allowed, no
// fsync) adjusted by mutate, and client-port options adjusted by
// mutateWire. It logs warnings to t and stops when the test ends.
func Start(t testing.TB, dir string, mutate func(*server.Config), mutateWire func(*wire.Options)) *Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.ClientPort = 2181 // NB: Validate wants one; the listener binds a free port
	cfg.TickTime = 200
	cfg.FourLetterWordsWhitelist = "*"
	cfg.ForceSync = false
	if mutate != nil {
		mutate(&cfg)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	wo := wire.DefaultOptions()
	wo.Logger = log
	if mutateWire != nil {
		mutateWire(&wo)
	}
	ln, err := wire.Listen("127.0.0.1:0", srv, wo)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	go ln.Serve()
	s := &Server{Config: cfg, Server: srv, Listener: ln, Addr: ln.Addr().String()}
	t.Cleanup(s.Stop)
	return s
}

// Stop closes the client port, then the server. It may be called more
// than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.Listener.Close()
		s.Server.Close()
	})
}

// FourLetter sends a four-letter word to addr and returns the answer.
func FourLetter(t testing.TB, addr, word string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
