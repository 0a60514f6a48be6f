package server

import (
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/jute"
)

func TestSessionTrackerExpiresInTickBuckets(t *testing.T) {
	const tick = 2000
	tr := newSessionTracker(tick, 1000) // next bucket starts at 2000
	tr.add(1, 4000, 1000)               // 1000+4000 -> bucket 6000
	tr.add(2, 6000, 1000)               // -> bucket 8000

	if got := tr.expire(5999); len(got) != 0 {
		t.Fatalf("expire(5999) = %v, want none", got)
	}
	if got := tr.expire(6000); !slices.Equal(got, []int64{1}) {
		t.Fatalf("expire(6000) = %v, want [1]", got)
	}
	if tr.live(1) || !tr.live(2) {
		t.Fatalf("live(1)=%v live(2)=%v, want false true", tr.live(1), tr.live(2))
	}
	if tr.touch(1, 4000, 6000) {
		t.Fatal("an expiring session could be touched back to life")
	}

	// Touching session 2 moves it to a later bucket.
	tr.touch(2, 6000, 7000) // 7000+6000 -> 14000
	if got := tr.expire(13999); len(got) != 0 {
		t.Fatalf("expire(13999) = %v, want none", got)
	}
	if got := tr.expire(14000); !slices.Equal(got, []int64{2}) {
		t.Fatalf("expire(14000) = %v, want [2]", got)
	}
	tr.remove(1)
	tr.remove(2)
	if tr.count() != 0 {
		t.Fatalf("count = %d after removing all", tr.count())
	}
}

func TestSessionTrackerCatchesUpSkippedTicks(t *testing.T) {
	tr := newSessionTracker(1000, 0)
	tr.add(7, 1500, 0) // bucket 2000
	tr.add(8, 3500, 0) // bucket 4000
	got := tr.expire(10_000)
	slices.Sort(got)
	if !slices.Equal(got, []int64{7, 8}) {
		t.Fatalf("expire after a long pause = %v, want [7 8]", got)
	}
}

func TestSessionTrackerClosingIsNotLive(t *testing.T) {
	tr := newSessionTracker(1000, 0)
	tr.add(3, 5000, 0)
	tr.setClosing(3)
	if tr.live(3) || tr.touch(3, 5000, 10) {
		t.Fatal("closing session still live")
	}
	if got := tr.expire(100_000); len(got) != 0 {
		t.Fatalf("closing session expired again: %v", got)
	}
}

// TestSessionPasswordMatchesJavaRandom checks the derivation against
// java.util.Random, which ZooKeeper uses to make session passwords.
func TestSessionPasswordMatchesJavaRandom(t *testing.T) {
	// java.util.Random(42).nextBytes(new byte[16]), printed by a JVM.
	// 42 = id ^ 0xB3415C00, so id = 42 ^ 0xB3415C00.
	got := hex.EncodeToString(sessionPassword(42 ^ sessionPasswordSecret))
	const want = "359d41baf78afe0de1bbe7ae28c0450c"
	if got != want {
		t.Fatalf("password = %s, want %s", got, want)
	}
}

func TestSessionIDBaseHasServerIDInHighByte(t *testing.T) {
	id := makeSessionIDBase(1, 1_700_000_000_000)
	if byte(uint64(id)>>56) != 1 {
		t.Fatalf("high byte of %x is not the server id", id)
	}
	if id <= 0 {
		t.Fatalf("id %x is not positive", id)
	}
}

// TestSessionExpiryIgnoresWallClockSteps: session expiry runs on the
// monotonic clock, so a step of the wall clock neither expires live
// sessions at once nor keeps abandoned ones alive. A session pinged every
// tick survives and an abandoned one expires on time, whichever way the
// wall clock jumped.
func TestSessionExpiryIgnoresWallClockSteps(t *testing.T) {
	for _, step := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(step.String(), func(t *testing.T) {
			srv, err := newServer(testConfig("/data"), zerolog.Nop(), vfs.NewMem())
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			// NB: Round(0) drops the monotonic reading, so the step moves
			// only the wall clock, as settimeofday or an NTP step does.
			srv.now = func() time.Time { return time.Now().Add(step).Round(0) }
			srv.Start()

			const timeout = 2000 // ms; tickTime is 200
			connect := func() (*Client, *recordingSink) {
				sink := newRecordingSink()
				c, _, err := srv.Connect(&jute.ConnectRequest{TimeOut: timeout, Passwd: make([]byte, 16)}, "127.0.0.1", sink)
				if err != nil || c == nil {
					t.Fatalf("connect: %v", err)
				}
				return c, sink
			}
			live, liveSink := connect()
			_, abandonedSink := connect()
			start := time.Now()
			ping := time.NewTicker(200 * time.Millisecond)
			defer ping.Stop()
			deadline := time.After(timeout*time.Millisecond + 3*time.Second)
			for {
				select {
				case <-ping.C:
					live.Handle(&jute.RequestHeader{Xid: -2, Type: int32(jute.OpPing)}, nil)
				case <-liveSink.closed:
					t.Fatalf("a session pinged every tick expired %v after it was created", time.Since(start))
				case <-abandonedSink.closed:
					if took := time.Since(start); took < timeout*time.Millisecond {
						t.Fatalf("an abandoned session expired after %v, before its timeout", took)
					}
					return
				case <-deadline:
					t.Fatalf("an abandoned session was still live %v after it was created", time.Since(start))
				}
			}
		})
	}
}

// TestSessionExpiresAtItsBucket: a session is expired at its bucket's
// time, not at the next tick of a ticker that started with the server.
// Buckets are multiples of tickTime from when the server was created, and
// Start comes after recovery, which here takes half a tick.
func TestSessionExpiresAtItsBucket(t *testing.T) {
	const tick = 400
	cfg := testConfig("/data")
	cfg.TickTime = tick
	srv, err := newServer(cfg, zerolog.Nop(), vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// NB: moving start back is what a recovery of half a tick does to the
	// phase between the buckets and Start.
	srv.start = srv.start.Add(-tick / 2 * time.Millisecond)
	srv.Start()

	sink := newRecordingSink()
	before := srv.sessionMs()
	c, resp, err := srv.Connect(&jute.ConnectRequest{TimeOut: 2 * tick, Passwd: make([]byte, 16)}, "127.0.0.1", sink)
	if err != nil || c == nil {
		t.Fatalf("connect: %v", err)
	}
	after := srv.sessionMs()
	timeout := int64(resp.TimeOut)
	earliest, latest := (before+timeout)/tick*tick+tick, (after+timeout)/tick*tick+tick
	select {
	case <-sink.closed:
	case <-time.After(time.Duration(timeout+2*tick) * time.Millisecond):
		t.Fatal("session did not expire")
	}
	// NB: the close follows a closeSession txn through log and apply.
	const slack = tick / 4
	if at := srv.sessionMs(); at < earliest || at > latest+slack {
		t.Fatalf("session expired at %d ms, its bucket is at %d ms (%d ms of slack)", at, latest, slack)
	}
}

func TestSessionTrackerWaitsForTheNextBucket(t *testing.T) {
	tr := newSessionTracker(1000, 250) // next bucket at 1000
	for _, c := range []struct{ now, want int64 }{{250, 750}, {999, 1}, {1000, 0}, {1700, 0}} {
		if got := tr.waitMs(c.now); got != c.want {
			t.Errorf("waitMs(%d) = %d, want %d", c.now, got, c.want)
		}
	}
	tr.expire(1700) // buckets 1000 done; next at 2000
	if got := tr.waitMs(1700); got != 300 {
		t.Errorf("waitMs(1700) after expire = %d, want 300", got)
	}
}
