package keystore

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/dure-network/dure/chain"
)

// Backend says how key seeds are kept on disk.
type Backend string

const (
	// BackendFile encrypts each seed under the keyring passphrase. Default.
	BackendFile Backend = "file"
	// BackendTest stores seeds in plaintext; dev and local testnets only.
	BackendTest Backend = "test"
)

// Sentinel errors. Returned errors wrap one of these with the key name and
// file path, so test them with errors.Is.
var (
	ErrNotFound        = errors.New("key not found")
	ErrExists          = errors.New("key already exists")
	ErrWrongPassphrase = errors.New("wrong passphrase")
	ErrCorrupt         = errors.New("key file is corrupt")
	ErrBadName         = errors.New("invalid key name")
	ErrNoPassphrase    = errors.New("no passphrase")
	ErrBadBackend      = errors.New("unknown keyring backend")
	ErrInsecureDir     = errors.New("keys directory is accessible by other users")
)

// Info describes a stored key; it never holds secret material.
type Info struct {
	Name    string        `json:"name"`
	Address chain.Address `json:"address"`
	PubKey  chain.PubKey  `json:"pubkey"`
	Backend Backend       `json:"backend"`
}

// Keystore is a directory of key files, one per key named <name>.json.
// Writes are atomic (temp file, fsync, link), so a crash never leaves a
// half-written key; it is safe to use from several goroutines and processes.
type Keystore struct {
	dir     string
	backend Backend
	pass    Passphrase
	kdf     KDF
	rnd     io.Reader
}

// Option tunes a Keystore.
type Option func(*Keystore)

// WithKDF sets the key-derivation function for keys written from now on
// (reading always uses the parameters recorded in each file). Tests lower
// the cost with it; production should keep DefaultKDF.
func WithKDF(k KDF) Option { return func(s *Keystore) { s.kdf = k } }

// Open opens (creating if needed, mode 0700) the key directory dir. An empty
// backend means BackendFile. pass may be nil for the test backend; it is
// called only when a key is encrypted or decrypted.
func Open(dir string, backend Backend, pass Passphrase, opts ...Option) (*Keystore, error) {
	if backend == "" {
		backend = BackendFile
	}
	if backend != BackendFile && backend != BackendTest {
		return nil, fmt.Errorf("keystore: %w %q (use %q or %q)", ErrBadBackend, backend, BackendFile, BackendTest)
	}
	ks := &Keystore{dir: dir, backend: backend, pass: pass, kdf: DefaultKDF(), rnd: rand.Reader}
	for _, o := range opts {
		o(ks)
	}
	if err := ks.kdf.validate(); err != nil {
		return nil, fmt.Errorf("keystore: kdf parameters: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: create %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("keystore: %s is not a directory", dir)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keystore: %w: %s has mode %04o; run: chmod 700 %s", ErrInsecureDir, dir, st.Mode().Perm(), dir)
	}
	return ks, nil
}

// Dir returns the key directory.
func (ks *Keystore) Dir() string { return ks.dir }

// Backend returns the backend used for new keys.
func (ks *Keystore) Backend() Backend { return ks.backend }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidateName reports whether name can be a key name: 1-64 characters of
// letters, digits, '.', '_' and '-', starting with a letter or digit. That
// keeps names safe as file names on every OS (no separators, no "..", no
// hidden files).
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("keystore: %w %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrBadName, name)
	}
	return nil
}

func (ks *Keystore) path(name string) string { return filepath.Join(ks.dir, name+".json") }

// keyErr wraps err with the key and its file.
func (ks *Keystore) keyErr(name string, err error) error {
	return fmt.Errorf("keystore: key %q (%s): %w", name, ks.path(name), err)
}

// Add creates a new random key.
func (ks *Keystore) Add(name string) (Info, error) {
	priv, err := chain.GenerateKey(ks.rnd)
	if err != nil {
		return Info{}, ks.keyErr(name, err)
	}
	return ks.store(name, priv, nil)
}

// ImportSeedHex stores a key from its hex-encoded 32-byte seed. For dev
// tooling and testnets with well-known keys.
func (ks *Keystore) ImportSeedHex(name, seedHex string) (Info, error) {
	seed, err := hex.DecodeString(strings.TrimSpace(seedHex))
	if err != nil {
		return Info{}, ks.keyErr(name, fmt.Errorf("seed is not hex: %w", err))
	}
	defer wipe(seed)
	priv, err := chain.PrivKeyFromSeed(seed)
	if err != nil {
		return Info{}, ks.keyErr(name, err)
	}
	return ks.store(name, priv, nil)
}

// store writes priv under name with the keystore's backend. pass is the
// passphrase if the caller already has it, else nil.
func (ks *Keystore) store(name string, priv chain.PrivKey, pass []byte) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	if _, err := os.Lstat(ks.path(name)); err == nil {
		return Info{}, ks.keyErr(name, ErrExists)
	}
	var kf *keyFile
	if ks.backend == BackendTest {
		kf = plainKey(priv)
	} else {
		if pass == nil {
			var err error
			if pass, err = ks.passphrase(); err != nil {
				return Info{}, ks.keyErr(name, err)
			}
			defer wipe(pass)
		}
		if err := ks.checkPassphrase(pass); err != nil {
			return Info{}, ks.keyErr(name, err)
		}
		var err error
		if kf, err = sealKey(priv, pass, ks.kdf, ks.rnd); err != nil {
			return Info{}, ks.keyErr(name, err)
		}
	}
	data, err := encodeKeyFile(kf)
	if err != nil {
		return Info{}, ks.keyErr(name, err)
	}
	if err := writeNew(ks.dir, ks.path(name), data); err != nil {
		return Info{}, ks.keyErr(name, err)
	}
	return kf.info(name), nil
}

// checkPassphrase refuses to encrypt a new key under a passphrase that does
// not open the keys already stored, so a typo cannot split the keyring
// across two passphrases. Corrupt files do not take part in the check.
func (ks *Keystore) checkPassphrase(pass []byte) error {
	names, err := ks.names()
	if err != nil {
		return err
	}
	for _, n := range names {
		kf, err := ks.read(n)
		if err != nil || kf.Backend != BackendFile {
			continue
		}
		_, err = kf.open(pass)
		if errors.Is(err, ErrWrongPassphrase) {
			return fmt.Errorf("%w: it does not open existing key %q", ErrWrongPassphrase, n)
		}
		if err == nil {
			return nil
		}
	}
	return nil
}

func (ks *Keystore) passphrase() ([]byte, error) {
	if ks.pass == nil {
		return nil, fmt.Errorf("%w: none was provided to the keystore", ErrNoPassphrase)
	}
	p, err := ks.pass()
	if err != nil {
		if errors.Is(err, ErrNoPassphrase) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrNoPassphrase, err)
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: the passphrase is empty", ErrNoPassphrase)
	}
	return p, nil
}

// read loads and structurally checks the key file of name.
func (ks *Keystore) read(name string) (*keyFile, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	data, err := readLimited(ks.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return decodeKeyFile(data)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileBytes+1))
}

func (kf *keyFile) info(name string) Info {
	return Info{Name: name, Address: kf.PubKey.Address(), PubKey: kf.PubKey, Backend: kf.Backend}
}

// Show returns the public information of one key without decrypting it.
func (ks *Keystore) Show(name string) (Info, error) {
	kf, err := ks.read(name)
	if err != nil {
		return Info{}, ks.wrap(name, err)
	}
	return kf.info(name), nil
}

// wrap adds key context unless err already carries it (name errors do).
func (ks *Keystore) wrap(name string, err error) error {
	if errors.Is(err, ErrBadName) {
		return err
	}
	return ks.keyErr(name, err)
}

// names lists key names in the directory, sorted.
func (ks *Keystore) names() ([]string, error) {
	ents, err := os.ReadDir(ks.dir)
	if err != nil {
		return nil, fmt.Errorf("keystore: list %s: %w", ks.dir, err)
	}
	var out []string
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() || ValidateName(n) != nil {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

// List returns every readable key sorted by name. Unreadable files do not
// hide the others: their errors are joined into the returned error while
// the good keys are still returned.
func (ks *Keystore) List() ([]Info, error) {
	names, err := ks.names()
	if err != nil {
		return nil, err
	}
	infos := make([]Info, 0, len(names))
	var errs []error
	for _, n := range names {
		kf, err := ks.read(n)
		if err != nil {
			errs = append(errs, ks.wrap(n, err))
			continue
		}
		infos = append(infos, kf.info(n))
	}
	return infos, errors.Join(errs...)
}

// Delete removes a key. There is no undo: export it first if in doubt.
func (ks *Keystore) Delete(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	err := os.Remove(ks.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return ks.keyErr(name, ErrNotFound)
	}
	if err != nil {
		return ks.keyErr(name, err)
	}
	return syncDir(ks.dir)
}

// Signer decrypts and returns the private key of name.
func (ks *Keystore) Signer(name string) (chain.PrivKey, error) {
	kf, err := ks.read(name)
	if err != nil {
		return chain.PrivKey{}, ks.wrap(name, err)
	}
	var pass []byte
	if kf.Backend == BackendFile {
		if pass, err = ks.passphrase(); err != nil {
			return chain.PrivKey{}, ks.keyErr(name, err)
		}
		defer wipe(pass)
	}
	priv, err := kf.open(pass)
	if err != nil {
		return chain.PrivKey{}, ks.keyErr(name, err)
	}
	return priv, nil
}

// armorType is the PEM block type of exported keys.
const armorType = "DURE ENCRYPTED PRIVATE KEY"

// Export returns the key of name encrypted under the keyring passphrase as
// PEM-armored text, whatever the backend: an export is always encrypted.
func (ks *Keystore) Export(name string) ([]byte, error) {
	stored, err := ks.read(name)
	if err != nil {
		return nil, ks.wrap(name, err)
	}
	pass, err := ks.passphrase()
	if err != nil {
		return nil, ks.keyErr(name, err)
	}
	defer wipe(pass)
	priv, err := stored.open(pass)
	if err != nil {
		return nil, ks.keyErr(name, err)
	}
	kf, err := sealKey(priv, pass, ks.kdf, ks.rnd)
	if err != nil {
		return nil, ks.keyErr(name, err)
	}
	body, err := encodeKeyFile(kf)
	if err != nil {
		return nil, ks.keyErr(name, err)
	}
	return pem.EncodeToMemory(&pem.Block{
		Type:    armorType,
		Headers: map[string]string{"Address": kf.Address},
		Bytes:   body,
	}), nil
}

// decodeArmor unwraps an exported key. Every failure wraps ErrCorrupt.
func decodeArmor(armored []byte) (*keyFile, error) {
	blk, rest := pem.Decode(armored)
	if blk == nil {
		return nil, fmt.Errorf("%w: no %q PEM block found", ErrCorrupt, armorType)
	}
	if blk.Type != armorType {
		return nil, fmt.Errorf("%w: PEM block is %q, want %q", ErrCorrupt, blk.Type, armorType)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fmt.Errorf("%w: trailing data after the PEM block", ErrCorrupt)
	}
	kf, err := decodeKeyFile(blk.Bytes)
	if err != nil {
		return nil, err
	}
	if kf.Backend != BackendFile {
		return nil, fmt.Errorf("%w: an exported key must be encrypted", ErrCorrupt)
	}
	if a, ok := blk.Headers["Address"]; ok && a != kf.Address {
		return nil, fmt.Errorf("%w: armor header address %q does not match the key %s", ErrCorrupt, a, kf.Address)
	}
	return kf, nil
}

// Import stores under name a key produced by Export, decrypting it with the
// keyring passphrase and re-storing it with this keystore's backend.
func (ks *Keystore) Import(name string, armored []byte) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	kf, err := decodeArmor(armored)
	if err != nil {
		return Info{}, fmt.Errorf("keystore: import key %q: %w", name, err)
	}
	pass, err := ks.passphrase()
	if err != nil {
		return Info{}, ks.keyErr(name, err)
	}
	defer wipe(pass)
	priv, err := kf.open(pass)
	if err != nil {
		return Info{}, fmt.Errorf("keystore: import key %q: %w", name, err)
	}
	return ks.store(name, priv, pass)
}

// writeNew atomically creates path with data (mode 0600), failing with
// ErrExists if path exists: the data goes to a temp file that is synced and
// then hard-linked into place, which cannot overwrite.
func writeNew(dir, path string, data []byte) error {
	f, err := os.CreateTemp(dir, ".tmp-key-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrExists
		}
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
