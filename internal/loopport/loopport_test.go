package loopport

import (
	"net"
	"testing"
)

// TestFreeNeverRepeats: ports come from 20000-32000, each once, and are
// free when handed out.
func TestFreeNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p, err := Free()
		if err != nil {
			t.Fatal(err)
		}
		if p < 20000 || p >= 32000 || seen[p] {
			t.Fatalf("port %d: outside 20000-32000 or handed out twice", p)
		}
		seen[p] = true
	}
	ln, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if p := ln.Addr().(*net.TCPAddr).Port; seen[p] {
		t.Fatalf("Listen bound port %d, already handed out", p)
	}
}
