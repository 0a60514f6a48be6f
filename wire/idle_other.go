//go:build !linux

package wire

import (
	"errors"
	"time"
)

// idlePoller is Linux-only: elsewhere every connection keeps its reader.
type idlePoller struct{}

func newIdlePoller(*Listener, time.Duration) (*idlePoller, error) {
	return nil, errors.New("wire: idle connections need epoll")
}

func (*idlePoller) watch(*conn) error { return errors.New("wire: no idle poller") }
func (*idlePoller) unwatch(*conn)     {}
func (*idlePoller) forget(*conn)      {}
func (*idlePoller) close()            {}
