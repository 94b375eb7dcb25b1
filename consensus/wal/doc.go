// Package wal is the durable half of consensus: the write-ahead log of a
// node's consensus inputs and signed messages, and the last-signed record.
//
// The log is a directory of segment files, one per height, each a sequence
// of records framed as [4-byte big-endian length][4-byte CRC-32C over
// length and payload][payload]. Open cuts a torn or corrupt tail of the
// newest segment at the last good record (what a crash mid-append leaves).
// Moving to a new height closes the previous segment and deletes segments
// older than Options.KeepHeights, so disk use stays bounded.
//
// The last-signed record is a separate small file replaced atomically
// (temp file, fsync, rename, fsync of the directory).
//
// Use: Append every consensus.Ready.WAL record, Sync when Ready.MustSync,
// SaveLastSigned(Ready.LastSigned.Encode(codec)), and only then send the
// Ready's messages. On restart, LoadLastSigned and Records(height) feed
// consensus.New and Machine.Replay. Payloads are opaque here; package
// consensus encodes and decodes them.
package wal
