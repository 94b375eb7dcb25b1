package keystore

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/dure-network/dure/chain"
)

// fuzzSeeds returns one valid record per shape: scrypt, argon2id, test.
func fuzzSeeds(f *testing.F) [][]byte {
	seed := bytes.Repeat([]byte{1}, chain.SeedLen)
	priv, _ := chain.PrivKeyFromSeed(seed)
	var out [][]byte
	for _, kdf := range []KDF{fastKDF, {Argon2id: &Argon2idParams{Time: 1, Memory: 8, Threads: 1}}} {
		kf, err := sealKey(priv, []byte("fuzz"), kdf, bytes.NewReader(bytes.Repeat([]byte{9}, 64)))
		if err != nil {
			f.Fatal(err)
		}
		b, _ := encodeKeyFile(kf)
		out = append(out, b)
	}
	b, _ := encodeKeyFile(plainKey(priv))
	return append(out, b)
}

// cheap reports whether opening kf costs little enough for a fuzz loop; the
// decoder allows costs up to a real deployment's, which would stall fuzzing.
func cheap(kf *keyFile) bool {
	if kf.Crypto == nil {
		return true
	}
	if s := kf.Crypto.Scrypt; s != nil {
		return s.LogN <= 8 && s.R*s.P <= 16
	}
	a := kf.Crypto.Argon2id
	return a.Time <= 2 && a.Memory <= 256
}

// FuzzDecodeKeyFile checks that no input panics the key-file decoder or the
// decryption behind it, and that the only failures are the two documented
// ones. The corpus lives in testdata/fuzz/FuzzDecodeKeyFile.
func FuzzDecodeKeyFile(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"backend":"file","crypto":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := decodeKeyFile(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		// An accepted record re-encodes to one that decodes the same way.
		again, err := encodeKeyFile(kf)
		if err != nil {
			t.Fatal(err)
		}
		kf2, err := decodeKeyFile(again)
		if err != nil || kf2.PubKey != kf.PubKey || kf2.Backend != kf.Backend {
			t.Fatalf("re-encoded record does not decode alike: %v", err)
		}
		if !cheap(kf) {
			return
		}
		priv, err := kf.open([]byte("fuzz"))
		switch {
		case err == nil:
			if priv.PubKey() != kf.PubKey {
				t.Fatal("opened a key that does not match its public key")
			}
		case !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongPassphrase):
			t.Fatalf("open error is neither ErrCorrupt nor ErrWrongPassphrase: %v", err)
		}
	})
}

// FuzzDecodeArmor does the same for exported keys.
func FuzzDecodeArmor(f *testing.F) {
	ks, err := Open(filepath.Join(f.TempDir(), "keys"), BackendTest, StaticPassphrase("fuzz"), WithKDF(fastKDF))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := ks.ImportSeedHex("k", "0101010101010101010101010101010101010101010101010101010101010101"); err != nil {
		f.Fatal(err)
	}
	armored, err := ks.Export("k")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(armored)
	f.Add([]byte("-----BEGIN " + armorType + "-----\n\n-----END " + armorType + "-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := decodeArmor(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("armor error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		if kf.Backend != BackendFile {
			t.Fatal("armor accepted an unencrypted key")
		}
		if cheap(kf) {
			if _, err := kf.open([]byte("fuzz")); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("open: %v", err)
			}
		}
	})
}

// BenchmarkUnlockDefaultKDF is the cost of one Signer call with production
// parameters: what a user waits for per unlock.
func BenchmarkUnlockDefaultKDF(b *testing.B) {
	ks, err := Open(filepath.Join(b.TempDir(), "keys"), BackendFile, StaticPassphrase(pass))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ks.Add("k"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := ks.Signer("k"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignerTestBackend is the cost of reading a plaintext key.
func BenchmarkSignerTestBackend(b *testing.B) {
	ks, err := Open(filepath.Join(b.TempDir(), "keys"), BackendTest, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ks.Add("k"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ks.Signer("k"); err != nil {
			b.Fatal(err)
		}
	}
}
