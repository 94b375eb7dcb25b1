package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestAppendReopenRecords(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := w.Append(7, []byte(fmt.Sprintf("rec-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.Height() != 7 || w.Repaired() != 0 {
		t.Fatalf("height %d repaired %d", w.Height(), w.Repaired())
	}
	if err := w.Append(7, []byte("rec-5")); err != nil {
		t.Fatal(err)
	}
	recs, err := w.Records(7)
	if err != nil || len(recs) != 6 || string(recs[5]) != "rec-5" {
		t.Fatalf("records %q err %v", recs, err)
	}
	if err := w.Append(6, []byte("old")); !errors.Is(err, ErrOldHeight) {
		t.Fatalf("append below height: %v", err)
	}
	if err := w.Append(7, nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("empty record: %v", err)
	}
}

// TestTornTailEveryOffset cuts the last record at every byte offset and
// checks that Open keeps exactly the records before it and can append again.
func TestTornTailEveryOffset(t *testing.T) {
	src := t.TempDir()
	w, err := Open(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	good := [][]byte{[]byte("first"), []byte("second record")}
	last := bytes.Repeat([]byte{0xab}, 40)
	for _, r := range append(good, last) {
		if err := w.Append(3, r); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	full, err := os.ReadFile(filepath.Join(src, fmt.Sprintf("%020d.wal", 3)))
	if err != nil {
		t.Fatal(err)
	}
	lastStart := len(full) - headerLen - len(last)
	corruptions := map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b },
		"bit flip":  func(b []byte) []byte { c := bytes.Clone(b); c[len(c)-1] ^= 1; return c },
	}
	for name, mutate := range corruptions {
		for cut := lastStart; cut <= len(full); cut++ {
			data := full[:cut]
			if name == "truncated" && cut == len(full) {
				continue // that is the intact log
			}
			if name == "bit flip" {
				if cut == lastStart {
					continue
				}
				data = mutate(full[:cut])
			}
			dir := t.TempDir()
			path := filepath.Join(dir, fmt.Sprintf("%020d.wal", 3))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			w, err := Open(dir, Options{})
			if err != nil {
				t.Fatalf("%s at %d: open: %v", name, cut, err)
			}
			if want := int64(len(data) - lastStart); w.Repaired() != want {
				t.Fatalf("%s at %d: repaired %d, want %d", name, cut, w.Repaired(), want)
			}
			if err := w.Append(3, []byte("after")); err != nil {
				t.Fatal(err)
			}
			recs, err := w.Records(3)
			w.Close()
			if err != nil || len(recs) != 3 || string(recs[0]) != "first" || string(recs[1]) != "second record" || string(recs[2]) != "after" {
				t.Fatalf("%s at %d: records %q err %v", name, cut, recs, err)
			}
		}
	}
}

func TestRotationTrimsOldHeights(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{KeepHeights: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for h := uint64(1); h <= 10; h++ {
		if err := w.Append(h, []byte{byte(h)}); err != nil {
			t.Fatal(err)
		}
	}
	hs, err := w.heights()
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0] != 9 || hs[1] != 10 {
		t.Fatalf("segments left: %v, want [9 10]", hs)
	}
	if recs, err := w.Records(3); recs != nil || err != nil {
		t.Fatalf("trimmed height still readable: %v %v", recs, err)
	}
}

func TestLastSignedAtomic(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if b, err := w.LoadLastSigned(); b != nil || err != nil {
		t.Fatalf("fresh dir: %v %v", b, err)
	}
	for _, v := range []string{"one", "two"} {
		if err := w.SaveLastSigned([]byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := w.LoadLastSigned(); string(b) != "two" || err != nil {
		t.Fatalf("load: %q %v", b, err)
	}
	// A leftover temp file from a crash mid-write changes nothing.
	if err := os.WriteFile(filepath.Join(dir, lastSignedName+".tmp"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := w.LoadLastSigned(); string(b) != "two" || err != nil {
		t.Fatalf("load with stale temp: %q %v", b, err)
	}
	// A corrupted file is an error, never silently "never signed".
	p := filepath.Join(dir, lastSignedName)
	raw, _ := os.ReadFile(p)
	raw[len(raw)-1] ^= 0xff
	os.WriteFile(p, raw, 0o600)
	if _, err := w.LoadLastSigned(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt last-signed: %v", err)
	}
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add([]byte{})
	f.Add(frame([]byte("hello")))
	f.Add(append(frame([]byte("a")), frame([]byte("bc"))...))
	f.Add([]byte{0, 0, 0, 5, 1, 2, 3, 4, 'x'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, good, err := DecodeRecords(data)
		if good > len(data) || (err == nil) != (good == len(data)) {
			t.Fatalf("good %d of %d, err %v", good, len(data), err)
		}
		// Re-framing the decoded records reproduces the good prefix.
		var re []byte
		for _, r := range recs {
			re = append(re, frame(r)...)
		}
		if !bytes.Equal(re, data[:good]) {
			t.Fatal("decoded records do not re-encode to the good prefix")
		}
	})
}
