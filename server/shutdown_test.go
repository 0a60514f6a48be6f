package server

import (
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/jute"
)

// TestCloseWhileSessionsAreCreated: Connect racing Close returns, with a
// session or an error; a createSession handed to the write path as it
// stops is answered, never left waiting.
func TestCloseWhileSessionsAreCreated(t *testing.T) {
	for round := range 200 {
		srv, err := newServer(testConfig("/data"), zerolog.Nop(), vfs.NewMem())
		if err != nil {
			t.Fatal(err)
		}
		srv.Start()
		var wg sync.WaitGroup
		started := make(chan struct{}, 16)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, _, err := srv.Connect(&jute.ConnectRequest{TimeOut: 4000}, "127.0.0.1", &copyingSink{}); err != nil {
						return
					}
					select {
					case started <- struct{}{}:
					default:
					}
				}
			}()
		}
		for range 16 {
			<-started // NB: sessions are being created when Close begins
		}
		srv.Close()
		done := make(chan struct{})
		go func() {
			wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: a Connect still waits 10s after Close", round)
		}
	}
}
