// Package loopport hands out loopback ports for the servers a test, a
// benchmark or the chaos harness starts. Ports come from 20000-32000,
// below Linux's ephemeral range (32768 and up), so that no outgoing
// connection takes one as its source port before its server (re)binds
// it, and a port is never handed out twice in a process, so that a
// server restarted on its old port finds it free.
package loopport

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// ErrNone is returned when no port of the range could be bound.
var ErrNone = errors.New("loopport: no free loopback port in 20000-32000")

// Listen binds a port not handed out before and returns its listener.
func Listen() (net.Listener, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 1000 {
		p := 20000 + rand.IntN(12000)
		if handedOut.ports[p] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		handedOut.ports[p] = true
		return ln, nil
	}
	return nil, ErrNone
}

// Free returns a port not handed out before that was free a moment ago,
// for a server to bind.
func Free() (int, error) {
	ln, err := Listen()
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
