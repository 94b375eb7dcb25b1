package keystore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
)

// fastKDF keeps tests quick; DefaultKDF is exercised once in TestDefaultKDF.
var fastKDF = KDF{Scrypt: &ScryptParams{LogN: 4, R: 8, P: 1}}

const pass = "correct horse battery staple"

func open(t *testing.T, dir string, b Backend, p Passphrase) *Keystore {
	t.Helper()
	ks, err := Open(dir, b, p, WithKDF(fastKDF))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return ks
}

func newStore(t *testing.T, b Backend) *Keystore {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "keys"), b, StaticPassphrase(pass))
}

func mustSign(t *testing.T, priv chain.PrivKey, want chain.PubKey) {
	t.Helper()
	if priv.PubKey() != want {
		t.Fatalf("signer pubkey %s, want %s", priv.PubKey(), want)
	}
	msg := []byte("dure keystore round trip")
	if !chain.VerifySig(want, msg, priv.Sign(msg)) {
		t.Fatal("signature from keystore key does not verify")
	}
}

func TestRoundTripPerBackend(t *testing.T) {
	for _, b := range []Backend{BackendFile, BackendTest} {
		t.Run(string(b), func(t *testing.T) {
			ks := newStore(t, b)
			info, err := ks.Add("alice")
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			if info.Name != "alice" || info.Backend != b || info.Address != info.PubKey.Address() {
				t.Fatalf("Add info = %+v", info)
			}
			if !strings.HasPrefix(info.Address.String(), "dure1") {
				t.Fatalf("address %s is not bech32 dure1…", info.Address)
			}
			if _, err := ks.Add("bob"); err != nil {
				t.Fatalf("Add bob: %v", err)
			}
			shown, err := ks.Show("alice")
			if err != nil || shown != info {
				t.Fatalf("Show = %+v, %v; want %+v", shown, err, info)
			}
			list, err := ks.List()
			if err != nil || len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
				t.Fatalf("List = %+v, %v", list, err)
			}
			// A fresh handle on the same directory reads what was written.
			ks2 := open(t, ks.Dir(), b, StaticPassphrase(pass))
			priv, err := ks2.Signer("alice")
			if err != nil {
				t.Fatalf("Signer: %v", err)
			}
			mustSign(t, priv, info.PubKey)
			if err := ks2.Delete("alice"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := ks.Show("alice"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Show after Delete: %v, want ErrNotFound", err)
			}
			if list, _ := ks.List(); len(list) != 1 || list[0].Name != "bob" {
				t.Fatalf("List after Delete = %+v", list)
			}
		})
	}
}

func TestImportSeedHexIsDeterministic(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, chain.SeedLen)
	want, _ := chain.PrivKeyFromSeed(seed)
	for _, b := range []Backend{BackendFile, BackendTest} {
		ks := newStore(t, b)
		info, err := ks.ImportSeedHex("dev", hex.EncodeToString(seed)+"\n")
		if err != nil {
			t.Fatalf("%s: ImportSeedHex: %v", b, err)
		}
		if info.PubKey != want.PubKey() {
			t.Fatalf("%s: pubkey %s, want %s", b, info.PubKey, want.PubKey())
		}
		priv, err := ks.Signer("dev")
		if err != nil {
			t.Fatal(err)
		}
		mustSign(t, priv, want.PubKey())
	}
	ks := newStore(t, BackendTest)
	for _, bad := range []string{"zz", "00", hex.EncodeToString(make([]byte, 31)), hex.EncodeToString(make([]byte, 33))} {
		if _, err := ks.ImportSeedHex("x", bad); err == nil {
			t.Errorf("ImportSeedHex(%q) accepted", bad)
		}
	}
}

func TestArgon2idRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	kdf := KDF{Argon2id: &Argon2idParams{Time: 1, Memory: 64, Threads: 1}}
	ks, err := Open(dir, BackendFile, StaticPassphrase(pass), WithKDF(kdf))
	if err != nil {
		t.Fatal(err)
	}
	info, err := ks.Add("a")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "a.json"))
	if !bytes.Contains(raw, []byte(`"kdf": "argon2id"`)) {
		t.Fatalf("file does not record argon2id:\n%s", raw)
	}
	// A keystore configured for scrypt still reads argon2id files: the
	// parameters come from the file.
	priv, err := open(t, dir, BackendFile, StaticPassphrase(pass)).Signer("a")
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, priv, info.PubKey)
	if _, err := open(t, dir, BackendFile, StaticPassphrase("nope")).Signer("a"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase on argon2id: %v", err)
	}
}

func TestDefaultKDF(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ks, err := Open(dir, "", StaticPassphrase(pass))
	if err != nil {
		t.Fatal(err)
	}
	if ks.Backend() != BackendFile {
		t.Fatalf("default backend %q, want file", ks.Backend())
	}
	info, err := ks.Add("v")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "v.json"))
	var kf keyFile
	if err := json.Unmarshal(raw, &kf); err != nil {
		t.Fatal(err)
	}
	if s := kf.Crypto.Scrypt; s == nil || s.LogN != 15 || s.R != 8 || s.P != 1 {
		t.Fatalf("default kdf recorded as %+v, want scrypt N=2^15 r=8 p=1", kf.Crypto.Scrypt)
	}
	priv, err := ks.Signer("v")
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, priv, info.PubKey)
}

func TestWrongPassphrase(t *testing.T) {
	ks := newStore(t, BackendFile)
	if _, err := ks.Add("alice"); err != nil {
		t.Fatal(err)
	}
	bad := open(t, ks.Dir(), BackendFile, StaticPassphrase("wrong"))
	_, err := bad.Signer("alice")
	if !errors.Is(err, ErrWrongPassphrase) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("Signer with wrong passphrase: %v, want ErrWrongPassphrase only", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"alice"`) || !strings.Contains(msg, filepath.Join(ks.Dir(), "alice.json")) {
		t.Fatalf("error does not name key and file: %v", err)
	}
	// A new key under a different passphrase would split the keyring.
	if _, err := bad.Add("bob"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Add with mismatching passphrase: %v, want ErrWrongPassphrase", err)
	}
	if _, err := os.Stat(filepath.Join(ks.Dir(), "bob.json")); !os.IsNotExist(err) {
		t.Fatal("refused Add still wrote a file")
	}
	if _, err := bad.Export("alice"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Export with wrong passphrase: %v", err)
	}
	// Public information needs no passphrase.
	if _, err := bad.Show("alice"); err != nil {
		t.Fatalf("Show needs no passphrase: %v", err)
	}
}

func TestNoPassphrase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ks := open(t, dir, BackendFile, nil)
	if _, err := ks.Add("a"); !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("Add without passphrase: %v", err)
	}
	ks = open(t, dir, BackendFile, StaticPassphrase(""))
	if _, err := ks.Add("a"); !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("Add with empty passphrase: %v", err)
	}
	// The test backend needs none to add or sign.
	tks := open(t, filepath.Join(t.TempDir(), "k"), BackendTest, nil)
	if _, err := tks.Add("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := tks.Signer("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := tks.Export("a"); !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("Export from test backend without passphrase: %v", err)
	}
}

func TestPassphraseSources(t *testing.T) {
	const env = "DURE_TEST_KEYSTORE_PASS"
	p := PassphraseFromEnv(env)
	t.Setenv(env, "")
	if _, err := p(); !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("empty env: %v", err)
	}
	t.Setenv(env, "s3cret")
	if got, err := p(); err != nil || string(got) != "s3cret" {
		t.Fatalf("env passphrase = %q, %v", got, err)
	}
	file := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(file, []byte("s3cret\r\nignored"), 0o600)
	if got, err := PassphraseFromFile(file)(); err != nil || string(got) != "s3cret" {
		t.Fatalf("file passphrase = %q, %v", got, err)
	}
	os.WriteFile(file, []byte("\n"), 0o600)
	if _, err := PassphraseFromFile(file)(); !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := PassphraseFromFile(file + ".missing")(); !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("missing file: %v", err)
	}
	// End to end: a key sealed with the env passphrase opens with the file one.
	os.WriteFile(file, []byte("s3cret\n"), 0o600)
	dir := filepath.Join(t.TempDir(), "keys")
	info, err := open(t, dir, BackendFile, PassphraseFromEnv(env)).Add("k")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := open(t, dir, BackendFile, PassphraseFromFile(file)).Signer("k")
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, priv, info.PubKey)
}

func TestExistsAndNotFound(t *testing.T) {
	ks := newStore(t, BackendFile)
	first, err := ks.Add("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Add("a"); !errors.Is(err, ErrExists) {
		t.Fatalf("second Add: %v, want ErrExists", err)
	}
	if again, _ := ks.Show("a"); again != first {
		t.Fatal("refused Add replaced the key")
	}
	for op, f := range map[string]func() error{
		"Show":   func() error { _, err := ks.Show("nobody"); return err },
		"Signer": func() error { _, err := ks.Signer("nobody"); return err },
		"Export": func() error { _, err := ks.Export("nobody"); return err },
		"Delete": func() error { return ks.Delete("nobody") },
	} {
		if err := f(); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"nobody"`) {
			t.Errorf("%s(missing): %v, want ErrNotFound naming the key", op, err)
		}
	}
}

func TestPermissions(t *testing.T) {
	for _, b := range []Backend{BackendFile, BackendTest} {
		ks := newStore(t, b)
		if _, err := ks.Add("a"); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(ks.Dir())
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s: dir mode %04o, want 0700", b, st.Mode().Perm())
		}
		st, _ = os.Stat(filepath.Join(ks.Dir(), "a.json"))
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: key file mode %04o, want 0600", b, st.Mode().Perm())
		}
		ents, _ := os.ReadDir(ks.Dir())
		if len(ents) != 1 {
			t.Errorf("%s: dir holds %d entries, want only a.json (temp files left?)", b, len(ents))
		}
	}
	open := filepath.Join(t.TempDir(), "open")
	os.Mkdir(open, 0o755)
	os.Chmod(open, 0o755)
	_, err := Open(open, BackendFile, StaticPassphrase(pass))
	if !errors.Is(err, ErrInsecureDir) || !strings.Contains(err.Error(), "chmod 700") {
		t.Fatalf("Open on 0755 dir: %v, want ErrInsecureDir with the fix", err)
	}
	for _, k := range []KDF{{}, {Scrypt: &ScryptParams{LogN: 0, R: 8, P: 1}}, {Scrypt: &ScryptParams{LogN: 15, R: 8, P: 1}, Argon2id: &Argon2idParams{Time: 1, Memory: 64, Threads: 1}}} {
		if _, err := Open(filepath.Join(t.TempDir(), "k"), BackendFile, nil, WithKDF(k)); err == nil {
			t.Errorf("Open accepted KDF %+v", k)
		}
	}
	if _, err := Open(t.TempDir(), "ledger", nil); !errors.Is(err, ErrBadBackend) {
		t.Fatalf("Open with unknown backend: %v", err)
	}
}

func TestPlaintextOnlyInTestBackend(t *testing.T) {
	seed := bytes.Repeat([]byte{0xab}, chain.SeedLen)
	for _, b := range []Backend{BackendFile, BackendTest} {
		ks := newStore(t, b)
		if _, err := ks.ImportSeedHex("k", hex.EncodeToString(seed)); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(filepath.Join(ks.Dir(), "k.json"))
		hasSeed := bytes.Contains(raw, []byte(hex.EncodeToString(seed)))
		hasWarning := bytes.Contains(raw, []byte("UNENCRYPTED TEST KEY"))
		if b == BackendFile && (hasSeed || hasWarning) {
			t.Errorf("file backend: seed in plaintext=%v, warning=%v; want neither", hasSeed, hasWarning)
		}
		if b == BackendTest && !(hasSeed && hasWarning) {
			t.Errorf("test backend: seed=%v warning=%v; want both", hasSeed, hasWarning)
		}
	}
}

func TestNameValidation(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"alice", true},
		{"validator-0", true},
		{"a.b_c-D9", true},
		{"0", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{".", false},
		{"..", false},
		{"../evil", false},
		{"a/b", false},
		{`a\b`, false},
		{"/abs", false},
		{".hidden", false},
		{"-flag", false},
		{"_x", false},
		{"a b", false},
		{"a\x00b", false},
		{"é", false},
		{strings.Repeat("x", 65), false},
	}
	root := t.TempDir()
	ks := open(t, filepath.Join(root, "keys"), BackendTest, StaticPassphrase(pass))
	for _, c := range cases {
		_, err := ks.Add(c.name)
		if c.ok != (err == nil) {
			t.Errorf("Add(%q): err=%v, want ok=%v", c.name, err, c.ok)
		}
		if !c.ok && !errors.Is(err, ErrBadName) {
			t.Errorf("Add(%q): %v, want ErrBadName", c.name, err)
		}
		for op, f := range map[string]func() error{
			"Show":   func() error { _, err := ks.Show(c.name); return err },
			"Signer": func() error { _, err := ks.Signer(c.name); return err },
			"Delete": func() error { return ks.Delete(c.name) },
			"Import": func() error { _, err := ks.Import(c.name, nil); return err },
		} {
			if err := f(); !c.ok && !errors.Is(err, ErrBadName) {
				t.Errorf("%s(%q): %v, want ErrBadName", op, c.name, err)
			}
		}
	}
	// Nothing escaped the keys directory.
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 || ents[0].Name() != "keys" {
		t.Fatalf("files outside the keys dir: %v", ents)
	}
}

func TestExportImportBetweenKeystores(t *testing.T) {
	for _, pair := range [][2]Backend{{BackendFile, BackendFile}, {BackendTest, BackendFile}, {BackendFile, BackendTest}} {
		t.Run(string(pair[0])+"->"+string(pair[1]), func(t *testing.T) {
			src, dst := newStore(t, pair[0]), newStore(t, pair[1])
			info, err := src.Add("alice")
			if err != nil {
				t.Fatal(err)
			}
			armored, err := src.Export("alice")
			if err != nil {
				t.Fatalf("Export: %v", err)
			}
			if !bytes.HasPrefix(armored, []byte("-----BEGIN "+armorType+"-----\n")) {
				t.Fatalf("export is not PEM armored:\n%s", armored)
			}
			for _, c := range armored {
				if c != '\n' && (c < 0x20 || c > 0x7e) {
					t.Fatalf("export has non-text byte %#x", c)
				}
			}
			raw, _ := os.ReadFile(filepath.Join(src.Dir(), "alice.json"))
			var kf keyFile
			json.Unmarshal(raw, &kf)
			if pair[0] == BackendTest && bytes.Contains(armored, []byte(hex.EncodeToString(kf.Seed))) {
				t.Fatal("export of a test key leaks the plaintext seed")
			}
			got, err := dst.Import("imported", armored)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if got.PubKey != info.PubKey || got.Name != "imported" || got.Backend != pair[1] {
				t.Fatalf("Import info %+v, want pubkey %s backend %s", got, info.PubKey, pair[1])
			}
			priv, err := dst.Signer("imported")
			if err != nil {
				t.Fatal(err)
			}
			mustSign(t, priv, info.PubKey)
			if _, err := dst.Import("imported", armored); !errors.Is(err, ErrExists) {
				t.Fatalf("Import over existing key: %v", err)
			}
			other := open(t, filepath.Join(t.TempDir(), "k"), BackendFile, StaticPassphrase("other"))
			if _, err := other.Import("x", armored); !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("Import with another passphrase: %v", err)
			}
		})
	}
}

func TestImportRejectsBadArmor(t *testing.T) {
	src := newStore(t, BackendFile)
	if _, err := src.Add("a"); err != nil {
		t.Fatal(err)
	}
	armored, _ := src.Export("a")
	other := newStore(t, BackendTest)
	if _, err := other.Add("b"); err != nil {
		t.Fatal(err)
	}
	plain, _ := os.ReadFile(filepath.Join(other.Dir(), "b.json"))
	cases := map[string][]byte{
		"empty":          nil,
		"not pem":        []byte("hello"),
		"truncated":      armored[:len(armored)/2],
		"wrong type":     bytes.Replace(armored, []byte(armorType), []byte("RSA PRIVATE KEY"), 2),
		"trailing":       append(append([]byte{}, armored...), "junk"...),
		"header address": bytes.Replace(armored, []byte("Address: dure1"), []byte("Address: dure1q"), 1),
		"plaintext body": pem.EncodeToMemory(&pem.Block{Type: armorType, Bytes: plain}),
	}
	for name, in := range cases {
		if _, err := other.Import("x", in); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Import = %v, want ErrCorrupt", name, err)
		}
	}
	_, err := other.Import("x", cases["plaintext body"])
	if err == nil || !strings.Contains(err.Error(), "must be encrypted") {
		t.Errorf("plaintext export accepted or wrong reason: %v", err)
	}
	if list, _ := other.List(); len(list) != 1 {
		t.Errorf("rejected imports left keys behind: %+v", list)
	}
}

func TestCorruptFiles(t *testing.T) {
	ks := newStore(t, BackendFile)
	if _, err := ks.Add("good"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ks.Dir(), "good.json")
	valid, _ := os.ReadFile(path)
	var kf keyFile
	if err := json.Unmarshal(valid, &kf); err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(*keyFile)) []byte {
		var c keyFile
		json.Unmarshal(valid, &c)
		f(&c)
		b, _ := json.Marshal(&c)
		return b
	}
	other, _ := chain.GenerateKey(nil)
	cases := map[string][]byte{
		"empty":            {},
		"garbage":          []byte("\x00\xff not json"),
		"json array":       []byte("[]"),
		"null":             []byte("null"),
		"huge":             bytes.Repeat([]byte(" "), maxFileBytes+10),
		"trailing":         append(append([]byte{}, valid...), "{}"...),
		"unknown field":    bytes.Replace(valid, []byte(`"version"`), []byte(`"extra": 1, "version"`), 1),
		"version 2":        mutate(func(c *keyFile) { c.Version = 2 }),
		"unknown backend":  mutate(func(c *keyFile) { c.Backend = "ledger" }),
		"address mismatch": mutate(func(c *keyFile) { c.Address = other.PubKey().Address().String() }),
		"pubkey swapped":   mutate(func(c *keyFile) { c.PubKey = other.PubKey(); c.Address = other.PubKey().Address().String() }),
		"ciphertext flip":  mutate(func(c *keyFile) { c.Crypto.Ciphertext[3] ^= 1 }),
		"tag flip":         mutate(func(c *keyFile) { c.Crypto.Ciphertext[len(c.Crypto.Ciphertext)-1] ^= 1 }),
		"nonce flip":       mutate(func(c *keyFile) { c.Crypto.Nonce[0] ^= 1 }),
		"short nonce":      mutate(func(c *keyFile) { c.Crypto.Nonce = c.Crypto.Nonce[:12] }),
		"short ciphertext": mutate(func(c *keyFile) { c.Crypto.Ciphertext = c.Crypto.Ciphertext[:10] }),
		"no crypto":        mutate(func(c *keyFile) { c.Crypto = nil }),
		"seed and crypto":  mutate(func(c *keyFile) { c.Seed = make([]byte, 32) }),
		"cipher name":      mutate(func(c *keyFile) { c.Crypto.Cipher = "aes-gcm" }),
		"kdf name":         mutate(func(c *keyFile) { c.Crypto.KDF = "pbkdf2" }),
		"scrypt too big":   mutate(func(c *keyFile) { c.Crypto.Scrypt.LogN = 40 }),
		"scrypt zero r":    mutate(func(c *keyFile) { c.Crypto.Scrypt.R = 0 }),
		"both kdfs":        mutate(func(c *keyFile) { c.Crypto.Argon2id = &Argon2idParams{Time: 1, Memory: 64, Threads: 1} }),
		"argon2 no params": mutate(func(c *keyFile) { c.Crypto.KDF = kdfArgon2id }),
		"test no seed":     mutate(func(c *keyFile) { c.Backend = BackendTest; c.Crypto = nil }),
		"pubkey not hex":   bytes.Replace(valid, []byte(`"pubkey": "`), []byte(`"pubkey": "zz`), 1),
	}
	// Every truncation of a valid file is corrupt too.
	for n := 0; n < len(valid)-2; n += 7 {
		cases[fmt.Sprintf("truncated at %d", n)] = valid[:n]
	}
	for name, data := range cases {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ks.Signer("good")
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Signer = %v, want ErrCorrupt", name, err)
			continue
		}
		if errors.Is(err, ErrWrongPassphrase) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q must name %s and not claim a wrong passphrase", name, err, path)
		}
	}
	// A damaged salt derives another key: indistinguishable from a wrong
	// passphrase by design, and still an error rather than a bad key.
	os.WriteFile(path, mutate(func(c *keyFile) { c.Crypto.Salt[0] ^= 1 }), 0o600)
	if _, err := ks.Signer("good"); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("salt flip: %v", err)
	}
}

func TestListReportsCorruptButReturnsGood(t *testing.T) {
	ks := newStore(t, BackendTest)
	for _, n := range []string{"a", "c"} {
		if _, err := ks.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(ks.Dir(), "b.json"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(ks.Dir(), "notes.txt"), []byte("ignored"), 0o600)
	list, err := ks.List()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("List error %v, want ErrCorrupt naming b", err)
	}
	if len(list) != 2 || list[0].Name != "a" || list[1].Name != "c" {
		t.Fatalf("List = %+v, want a and c", list)
	}
}
