package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Errors of the WAL.
var (
	ErrCorrupt   = errors.New("wal: corrupt record")
	ErrOldHeight = errors.New("wal: append below the current height")
	ErrTooLarge  = errors.New("wal: record too large")
	ErrClosed    = errors.New("wal: closed")
)

const (
	headerLen = 8
	// MaxRecord bounds one record; a length above it can only be garbage.
	MaxRecord      = 4 << 20
	segmentSuffix  = ".wal"
	lastSignedName = "last_signed"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options tune a WAL. The zero value is usable.
type Options struct {
	// KeepHeights is how many heights of segments survive a roll, counting
	// the current one (default 2). Older segments are deleted.
	KeepHeights uint64
}

// WAL is an append-only log of records grouped by height, one segment file
// per height. It is not safe for concurrent use.
type WAL struct {
	dir      string
	keep     uint64
	f        *os.File
	height   uint64
	repaired int64
}

// Open opens (creating if needed) the WAL in dir. A torn or corrupt tail of
// the newest segment — what a crash mid-append leaves — is cut at the last
// good record.
func Open(dir string, opts Options) (*WAL, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("wal: create %s: %w", dir, err)
	}
	keep := opts.KeepHeights
	if keep == 0 {
		keep = 2
	}
	w := &WAL{dir: dir, keep: keep}
	hs, err := w.heights()
	if err != nil {
		return nil, err
	}
	if len(hs) == 0 {
		return w, nil
	}
	h := hs[len(hs)-1]
	f, err := os.OpenFile(w.segPath(h), os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("wal: open segment %d: %w", h, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("wal: read segment %d: %w", h, err)
	}
	_, good, _ := DecodeRecords(data)
	if good < len(data) {
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, fmt.Errorf("wal: cut corrupt tail of segment %d: %w", h, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("wal: sync segment %d: %w", h, err)
		}
		w.repaired = int64(len(data) - good)
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("wal: seek segment %d: %w", h, err)
	}
	w.f, w.height = f, h
	return w, nil
}

// Repaired is how many bytes Open cut from a corrupt tail (0 if none).
func (w *WAL) Repaired() int64 { return w.repaired }

// Height is the height of the newest segment (0 if empty).
func (w *WAL) Height() uint64 { return w.height }

func (w *WAL) segPath(h uint64) string {
	return filepath.Join(w.dir, fmt.Sprintf("%020d%s", h, segmentSuffix))
}

// heights lists the segment heights present, ascending.
func (w *WAL) heights() ([]uint64, error) {
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		return nil, fmt.Errorf("wal: list %s: %w", w.dir, err)
	}
	var hs []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), segmentSuffix)
		if !ok || e.IsDir() {
			continue
		}
		if h, err := strconv.ParseUint(name, 10, 64); err == nil {
			hs = append(hs, h)
		}
	}
	slices.Sort(hs)
	return hs, nil
}

// Append adds a record under height. Moving to a higher height closes the
// current segment and deletes segments older than KeepHeights. Records are
// durable only after Sync.
func (w *WAL) Append(height uint64, data []byte) error {
	if w.dir == "" {
		return ErrClosed
	}
	if len(data) == 0 || len(data) > MaxRecord {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	if height < w.height {
		return fmt.Errorf("%w: %d < %d", ErrOldHeight, height, w.height)
	}
	if height > w.height || w.f == nil {
		if err := w.roll(height); err != nil {
			return err
		}
	}
	if _, err := w.f.Write(frame(data)); err != nil {
		return fmt.Errorf("wal: append at height %d: %w", height, err)
	}
	return nil
}

func frame(data []byte) []byte {
	buf := make([]byte, headerLen+len(data))
	binary.BigEndian.PutUint32(buf[0:4], uint32(len(data)))
	copy(buf[headerLen:], data)
	crc := crc32.Update(crc32.Checksum(buf[0:4], castagnoli), castagnoli, data)
	binary.BigEndian.PutUint32(buf[4:8], crc)
	return buf
}

func (w *WAL) roll(h uint64) error {
	if w.f != nil {
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("wal: sync segment %d: %w", w.height, err)
		}
		if err := w.f.Close(); err != nil {
			return fmt.Errorf("wal: close segment %d: %w", w.height, err)
		}
		w.f = nil
	}
	f, err := os.OpenFile(w.segPath(h), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("wal: create segment %d: %w", h, err)
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	w.f, w.height = f, h
	return w.trim()
}

func (w *WAL) trim() error {
	hs, err := w.heights()
	if err != nil {
		return err
	}
	for _, h := range hs {
		if h+w.keep <= w.height {
			if err := os.Remove(w.segPath(h)); err != nil {
				return fmt.Errorf("wal: remove segment %d: %w", h, err)
			}
		}
	}
	return nil
}

// Sync makes every appended record durable.
func (w *WAL) Sync() error {
	if w.f == nil {
		return nil
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("wal: sync segment %d: %w", w.height, err)
	}
	return nil
}

// Records returns the records of height in append order (nil if the
// segment does not exist). A corrupt record ends the list with ErrCorrupt.
func (w *WAL) Records(height uint64) ([][]byte, error) {
	data, err := os.ReadFile(w.segPath(height))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wal: read segment %d: %w", height, err)
	}
	recs, _, err := DecodeRecords(data)
	if err != nil {
		return recs, fmt.Errorf("segment %d: %w", height, err)
	}
	return recs, nil
}

// Close syncs and closes the current segment.
func (w *WAL) Close() error {
	if w.f == nil {
		w.dir = ""
		return nil
	}
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f, w.dir = nil, ""
	if err != nil {
		return fmt.Errorf("wal: close: %w", err)
	}
	return nil
}

// DecodeRecords splits data into framed records. It returns the records
// before the first bad frame, the byte length they span, and ErrCorrupt
// (wrapped) if anything follows them.
func DecodeRecords(data []byte) (recs [][]byte, good int, err error) {
	off := 0
	for off < len(data) {
		rest := data[off:]
		if len(rest) < headerLen {
			return recs, off, fmt.Errorf("%w: torn header at offset %d", ErrCorrupt, off)
		}
		n := binary.BigEndian.Uint32(rest[0:4])
		if n == 0 || n > MaxRecord {
			return recs, off, fmt.Errorf("%w: length %d at offset %d", ErrCorrupt, n, off)
		}
		if uint64(len(rest)-headerLen) < uint64(n) {
			return recs, off, fmt.Errorf("%w: torn record at offset %d", ErrCorrupt, off)
		}
		payload := rest[headerLen : headerLen+int(n)]
		crc := crc32.Update(crc32.Checksum(rest[0:4], castagnoli), castagnoli, payload)
		if crc != binary.BigEndian.Uint32(rest[4:8]) {
			return recs, off, fmt.Errorf("%w: checksum mismatch at offset %d", ErrCorrupt, off)
		}
		recs = append(recs, payload)
		off += headerLen + int(n)
	}
	return recs, off, nil
}
