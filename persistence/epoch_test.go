package persistence

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/gokeeper/gokeeper/jute"
)

func readEpochs(t testing.TB, s *Store, lastZxid int64) Epochs {
	t.Helper()
	e, err := s.ReadEpochs(lastZxid)
	if err != nil {
		t.Fatalf("ReadEpochs(0x%x): %v", lastZxid, err)
	}
	return e
}

// TestEpochFilesAsZooKeeper checks the bytes and the place of the files: a
// decimal long without a newline in DataDir/version-2.
func TestEpochFilesAsZooKeeper(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, testOptions(fs))
	defer s.Close()
	// Missing files are created from the epoch of the last zxid.
	if got, want := readEpochs(t, s, jute.MakeZxid(5, 9)), (Epochs{Accepted: 5, Current: 5}); got != want {
		t.Fatalf("ReadEpochs = %+v, want %+v", got, want)
	}
	for _, name := range []string{AcceptedEpochFile, CurrentEpochFile} {
		if got := string(readFile(t, fs, "/data/version-2/"+name)); got != "5" {
			t.Fatalf("%s holds %q, want \"5\"", name, got)
		}
	}
	if err := s.WriteAcceptedEpoch(1234567890123); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteCurrentEpoch(6); err != nil {
		t.Fatal(err)
	}
	if got := string(readFile(t, fs, "/data/version-2/acceptedEpoch")); got != "1234567890123" {
		t.Fatalf("acceptedEpoch holds %q", got)
	}
	if got := string(readFile(t, fs, "/data/version-2/currentEpoch")); got != "6" {
		t.Fatalf("currentEpoch holds %q", got)
	}
	if names, _ := fs.List("/data/version-2"); len(names) != 2 {
		t.Fatalf("version-2 holds %v, want the two epoch files only", names)
	}
	if got, want := readEpochs(t, s, jute.MakeZxid(6, 1)), (Epochs{Accepted: 1234567890123, Current: 6}); got != want {
		t.Fatalf("ReadEpochs = %+v, want %+v", got, want)
	}
}

// TestReadEpochsRules follows QuorumPeer.loadDataBase case by case.
func TestReadEpochsRules(t *testing.T) {
	const dir = "/data/version-2/"
	tests := []struct {
		name     string
		files    map[string]string // under version-2
		lastZxid int64
		want     Epochs
		wantErr  error
		after    map[string]string // file contents afterwards
	}{
		{name: "both missing, empty store", lastZxid: 0, want: Epochs{0, 0},
			after: map[string]string{"acceptedEpoch": "0", "currentEpoch": "0"}},
		{name: "current missing", files: map[string]string{"acceptedEpoch": "7"}, lastZxid: jute.MakeZxid(3, 2),
			want: Epochs{7, 3}, after: map[string]string{"currentEpoch": "3"}},
		{name: "accepted missing", files: map[string]string{"currentEpoch": "3"}, lastZxid: jute.MakeZxid(2, 2),
			// acceptedEpoch defaults to epoch(lastZxid) = 2 < currentEpoch 3.
			wantErr: ErrCorrupt},
		{name: "accepted ahead", files: map[string]string{"acceptedEpoch": "4", "currentEpoch": "3"},
			lastZxid: jute.MakeZxid(3, 100), want: Epochs{4, 3}},
		{name: "accepted behind current", files: map[string]string{"acceptedEpoch": "2", "currentEpoch": "3"},
			lastZxid: jute.MakeZxid(3, 1), wantErr: ErrCorrupt},
		{name: "current behind last zxid", files: map[string]string{"acceptedEpoch": "4", "currentEpoch": "3"},
			lastZxid: jute.MakeZxid(4, 1), wantErr: ErrCorrupt},
		{name: "current behind last zxid, tmp left", lastZxid: jute.MakeZxid(4, 1),
			files: map[string]string{"acceptedEpoch": "4", "currentEpoch": "3", "currentEpoch.tmp": "4"},
			want:  Epochs{4, 4}, after: map[string]string{"currentEpoch": "4"}},
		{name: "tmp ignored when current is not behind", lastZxid: jute.MakeZxid(3, 1),
			files: map[string]string{"acceptedEpoch": "4", "currentEpoch": "3", "currentEpoch.tmp": "4"},
			want:  Epochs{4, 3}, after: map[string]string{"currentEpoch": "3"}},
		{name: "garbage tmp", lastZxid: jute.MakeZxid(4, 1),
			files:   map[string]string{"acceptedEpoch": "4", "currentEpoch": "3", "currentEpoch.tmp": ""},
			wantErr: ErrCorrupt},
		{name: "first line only", files: map[string]string{"acceptedEpoch": "9\nx", "currentEpoch": "8\r\n"},
			lastZxid: jute.MakeZxid(8, 1), want: Epochs{9, 8}},
		{name: "sign", files: map[string]string{"acceptedEpoch": "+9", "currentEpoch": "8"}, want: Epochs{9, 8}},
		{name: "empty file", files: map[string]string{"acceptedEpoch": "", "currentEpoch": "1"}, wantErr: ErrCorrupt},
		{name: "spaces", files: map[string]string{"acceptedEpoch": " 2", "currentEpoch": "1"}, wantErr: ErrCorrupt},
		{name: "not a number", files: map[string]string{"currentEpoch": "0x10"}, wantErr: ErrCorrupt},
		{name: "too large", files: map[string]string{"currentEpoch": "9223372036854775808"}, wantErr: ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := vfs.NewMem()
			s := mustOpen(t, testOptions(fs))
			defer s.Close()
			if err := fs.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, data := range tt.files {
				writeFile(t, fs, dir+name, []byte(data))
			}
			got, err := s.ReadEpochs(tt.lastZxid)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ReadEpochs: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadEpochs: %v", err)
			}
			if got != tt.want {
				t.Fatalf("ReadEpochs = %+v, want %+v", got, tt.want)
			}
			for name, data := range tt.after {
				if b := string(readFile(t, fs, dir+name)); b != data {
					t.Fatalf("%s holds %q, want %q", name, b, data)
				}
			}
		})
	}
}

// TestEpochWriteCrash crashes (power loss and process death) before every
// change a write of each epoch file makes: the file reads back as the old
// value or the new one, and as the new one once the write returned.
func TestEpochWriteCrash(t *testing.T) {
	for _, file := range []string{AcceptedEpochFile, CurrentEpochFile} {
		for _, powerLoss := range []bool{false, true} {
			for _, fresh := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/powerLoss=%v/fresh=%v", file, powerLoss, fresh), func(t *testing.T) {
					// The old state: the file at 3 (or missing: it reads
					// as epoch(lastZxid) = 3). A new currentEpoch needs
					// acceptedEpoch at 12 first.
					const lastZxid = 3<<32 | 7
					otherWant := int64(3)
					setup := func(t *testing.T, s *Store) {
						if !fresh {
							readEpochs(t, s, lastZxid)
						}
						if file == CurrentEpochFile {
							otherWant = 12
							if err := s.WriteAcceptedEpoch(12); err != nil {
								t.Fatal(err)
							}
						}
					}
					write := func(s *Store) error {
						if file == AcceptedEpochFile {
							return s.WriteAcceptedEpoch(12)
						}
						return s.WriteCurrentEpoch(12)
					}
					seen := map[int64]bool{}
					forEachCrash(t, powerLoss, setup, write, func(t *testing.T, c crashCase) {
						if c.opErr != nil {
							t.Fatalf("crash before change %d: write: %v", c.k, c.opErr)
						}
						e := readEpochs(t, c.s, lastZxid)
						got, other := e.Accepted, e.Current
						if file == CurrentEpochFile {
							got, other = e.Current, e.Accepted
						}
						if (got != 3 && got != 12) || (c.done && got != 12) {
							t.Fatalf("crash before change %d (done %v): %s reads %d, want 3 or 12", c.k, c.done, file, got)
						}
						if other != otherWant {
							t.Fatalf("crash before change %d: the other file reads %d", c.k, other)
						}
						seen[got] = true
					})
					if !seen[3] || !seen[12] {
						t.Fatalf("crash points saw %v: want both the old and the new value", seen)
					}
				})
			}
		}
	}
}
