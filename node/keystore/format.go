package keystore

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"

	"github.com/dure-network/dure/chain"
)

// formatVersion is the key-file format written by this package. A reader
// rejects any other version as corrupt rather than guessing.
const formatVersion = 1

const (
	cipherName   = "xchacha20-poly1305"
	kdfScrypt    = "scrypt"
	kdfArgon2id  = "argon2id"
	saltLen      = 32
	checkLen     = 32
	maxFileBytes = 64 << 10 // a key file is < 1 KiB; anything larger is not ours

	testWarning = "UNENCRYPTED TEST KEY: for local development and testnets only. Never hold real funds with it."
)

// aadPrefix binds the ciphertext to the format version and the public key,
// so a record whose public key was swapped fails to open.
var aadPrefix = []byte("dure-keystore/v1/")

// KDF selects and tunes the passphrase key-derivation function. Exactly one
// of Scrypt and Argon2id is set.
type KDF struct {
	Scrypt   *ScryptParams
	Argon2id *Argon2idParams
}

// ScryptParams are scrypt costs; N = 2^LogN.
type ScryptParams struct {
	LogN uint8 `json:"log_n"`
	R    int   `json:"r"`
	P    int   `json:"p"`
}

// Argon2idParams are argon2id costs; Memory is in KiB.
type Argon2idParams struct {
	Time    uint32 `json:"time"`
	Memory  uint32 `json:"memory_kib"`
	Threads uint8  `json:"threads"`
}

// DefaultKDF is scrypt with N=2^15, r=8, p=1: about 32 MiB and 50-100 ms
// per unlock, which is what a person typing a passphrase can afford.
func DefaultKDF() KDF { return KDF{Scrypt: &ScryptParams{LogN: 15, R: 8, P: 1}} }

// Cost bounds accepted when reading a file. The upper bounds stop a
// corrupted or hostile file from asking for gigabytes of memory.
const (
	maxScryptLogN    = 20
	maxScryptR       = 32
	maxScryptP       = 16
	minArgonMemory   = 8
	maxArgonMemory   = 1 << 20 // 1 GiB
	maxArgonTime     = 16
	maxArgonThreads  = 64
	maxScryptRTimesP = 1 << 10
)

func (k KDF) validate() error {
	switch {
	case k.Scrypt != nil && k.Argon2id != nil:
		return errors.New("both scrypt and argon2id set")
	case k.Scrypt != nil:
		s := k.Scrypt
		if s.LogN < 1 || s.LogN > maxScryptLogN {
			return fmt.Errorf("scrypt log_n %d outside 1..%d", s.LogN, maxScryptLogN)
		}
		if s.R < 1 || s.R > maxScryptR || s.P < 1 || s.P > maxScryptP || s.R*s.P > maxScryptRTimesP {
			return fmt.Errorf("scrypt r=%d p=%d outside limits", s.R, s.P)
		}
	case k.Argon2id != nil:
		a := k.Argon2id
		if a.Time < 1 || a.Time > maxArgonTime {
			return fmt.Errorf("argon2id time %d outside 1..%d", a.Time, maxArgonTime)
		}
		if a.Threads < 1 || a.Threads > maxArgonThreads {
			return fmt.Errorf("argon2id threads %d outside 1..%d", a.Threads, maxArgonThreads)
		}
		if a.Memory < minArgonMemory*uint32(a.Threads) || a.Memory > maxArgonMemory {
			return fmt.Errorf("argon2id memory %d KiB outside %d..%d", a.Memory, minArgonMemory*uint32(a.Threads), maxArgonMemory)
		}
	default:
		return errors.New("no kdf")
	}
	return nil
}

// derive returns the 32-byte cipher key and the 32-byte passphrase check.
// The check lets a reader tell a wrong passphrase from a damaged ciphertext;
// it reveals nothing an attacker could not learn by trying to open the box.
func (k KDF) derive(pass, salt []byte) (key, check []byte, err error) {
	var dk []byte
	switch {
	case k.Scrypt != nil:
		dk, err = scrypt.Key(pass, salt, 1<<k.Scrypt.LogN, k.Scrypt.R, k.Scrypt.P, 64)
		if err != nil {
			return nil, nil, err
		}
	case k.Argon2id != nil:
		dk = argon2.IDKey(pass, salt, k.Argon2id.Time, k.Argon2id.Memory, k.Argon2id.Threads, 64)
	default:
		return nil, nil, errors.New("no kdf")
	}
	sum := sha256.Sum256(dk[32:])
	return dk[:32], sum[:], nil
}

// hexBytes is a byte string rendered as hex in JSON.
type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

func (h *hexBytes) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// keyFile is the on-disk record (and, wrapped in armor, the export format).
// The file name carries the key's name, so the record does not.
type keyFile struct {
	Version int          `json:"version"`
	Backend Backend      `json:"backend"`
	Warning string       `json:"warning,omitempty"`
	Address string       `json:"address"`
	PubKey  chain.PubKey `json:"pubkey"`
	Seed    hexBytes     `json:"seed,omitempty"`   // test backend only
	Crypto  *sealedSeed  `json:"crypto,omitempty"` // file backend only
}

type sealedSeed struct {
	Cipher     string          `json:"cipher"`
	KDF        string          `json:"kdf"`
	Scrypt     *ScryptParams   `json:"scrypt,omitempty"`
	Argon2id   *Argon2idParams `json:"argon2id,omitempty"`
	Salt       hexBytes        `json:"salt"`
	Nonce      hexBytes        `json:"nonce"`
	Check      hexBytes        `json:"check"`
	Ciphertext hexBytes        `json:"ciphertext"`
}

func (s *sealedSeed) kdf() KDF { return KDF{Scrypt: s.Scrypt, Argon2id: s.Argon2id} }

func aad(pub chain.PubKey) []byte {
	return append(append([]byte{}, aadPrefix...), pub[:]...)
}

// sealKey encrypts the seed of priv under pass.
func sealKey(priv chain.PrivKey, pass []byte, kdf KDF, rnd io.Reader) (*keyFile, error) {
	if err := kdf.validate(); err != nil {
		return nil, fmt.Errorf("kdf parameters: %w", err)
	}
	salt := make([]byte, saltLen)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return nil, fmt.Errorf("random salt: %w", err)
	}
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, fmt.Errorf("random nonce: %w", err)
	}
	key, check, err := kdf.derive(pass, salt)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	defer wipe(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	pub := priv.PubKey()
	seed := priv.Seed()
	defer wipe(seed)
	s := &sealedSeed{
		Cipher:     cipherName,
		Scrypt:     kdf.Scrypt,
		Argon2id:   kdf.Argon2id,
		Salt:       salt,
		Nonce:      nonce,
		Check:      check,
		Ciphertext: aead.Seal(nil, nonce, seed, aad(pub)),
	}
	if kdf.Scrypt != nil {
		s.KDF = kdfScrypt
	} else {
		s.KDF = kdfArgon2id
	}
	return &keyFile{Version: formatVersion, Backend: BackendFile, Address: pub.Address().String(), PubKey: pub, Crypto: s}, nil
}

// plainKey builds a test-backend record.
func plainKey(priv chain.PrivKey) *keyFile {
	pub := priv.PubKey()
	return &keyFile{Version: formatVersion, Backend: BackendTest, Warning: testWarning,
		Address: pub.Address().String(), PubKey: pub, Seed: priv.Seed()}
}

// decodeKeyFile parses and structurally checks a record without decrypting
// it. Every failure wraps ErrCorrupt.
func decodeKeyFile(data []byte) (*keyFile, error) {
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%w: %d bytes, a key file is at most %d", ErrCorrupt, len(data), maxFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var kf keyFile
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the record", ErrCorrupt)
	}
	if kf.Version != formatVersion {
		return nil, fmt.Errorf("%w: format version %d, this build reads version %d", ErrCorrupt, kf.Version, formatVersion)
	}
	if want := kf.PubKey.Address().String(); kf.Address != want {
		return nil, fmt.Errorf("%w: address %q does not match public key (want %s)", ErrCorrupt, kf.Address, want)
	}
	switch kf.Backend {
	case BackendTest:
		if kf.Crypto != nil || len(kf.Seed) != chain.SeedLen {
			return nil, fmt.Errorf("%w: test key needs a %d-byte seed and no crypto section", ErrCorrupt, chain.SeedLen)
		}
	case BackendFile:
		if kf.Seed != nil || kf.Crypto == nil {
			return nil, fmt.Errorf("%w: encrypted key needs a crypto section and no plaintext seed", ErrCorrupt)
		}
		if err := kf.Crypto.check(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	default:
		return nil, fmt.Errorf("%w: unknown backend %q", ErrCorrupt, kf.Backend)
	}
	return &kf, nil
}

func (s *sealedSeed) check() error {
	if s.Cipher != cipherName {
		return fmt.Errorf("cipher %q, want %q", s.Cipher, cipherName)
	}
	switch s.KDF {
	case kdfScrypt:
		if s.Scrypt == nil || s.Argon2id != nil {
			return errors.New("kdf scrypt needs exactly the scrypt parameters")
		}
	case kdfArgon2id:
		if s.Argon2id == nil || s.Scrypt != nil {
			return errors.New("kdf argon2id needs exactly the argon2id parameters")
		}
	default:
		return fmt.Errorf("unknown kdf %q", s.KDF)
	}
	if err := s.kdf().validate(); err != nil {
		return err
	}
	switch {
	case len(s.Salt) < 16 || len(s.Salt) > 64:
		return fmt.Errorf("salt is %d bytes, want 16..64", len(s.Salt))
	case len(s.Nonce) != chacha20poly1305.NonceSizeX:
		return fmt.Errorf("nonce is %d bytes, want %d", len(s.Nonce), chacha20poly1305.NonceSizeX)
	case len(s.Check) != checkLen:
		return fmt.Errorf("check is %d bytes, want %d", len(s.Check), checkLen)
	case len(s.Ciphertext) != chain.SeedLen+chacha20poly1305.Overhead:
		return fmt.Errorf("ciphertext is %d bytes, want %d", len(s.Ciphertext), chain.SeedLen+chacha20poly1305.Overhead)
	}
	return nil
}

// open recovers the private key. pass is only used for encrypted records.
// A mismatched check is ErrWrongPassphrase; anything else is ErrCorrupt.
func (kf *keyFile) open(pass []byte) (chain.PrivKey, error) {
	var seed []byte
	switch kf.Backend {
	case BackendTest:
		seed = append([]byte{}, kf.Seed...)
	case BackendFile:
		s := kf.Crypto
		key, check, err := s.kdf().derive(pass, s.Salt)
		if err != nil {
			return chain.PrivKey{}, fmt.Errorf("%w: derive key: %v", ErrCorrupt, err)
		}
		defer wipe(key)
		if subtle.ConstantTimeCompare(check, s.Check) != 1 {
			return chain.PrivKey{}, ErrWrongPassphrase
		}
		aead, err := chacha20poly1305.NewX(key)
		if err != nil {
			return chain.PrivKey{}, err
		}
		seed, err = aead.Open(nil, s.Nonce, s.Ciphertext, aad(kf.PubKey))
		if err != nil {
			return chain.PrivKey{}, fmt.Errorf("%w: passphrase is right but the ciphertext does not authenticate", ErrCorrupt)
		}
	default:
		return chain.PrivKey{}, fmt.Errorf("%w: unknown backend %q", ErrCorrupt, kf.Backend)
	}
	defer wipe(seed)
	priv, err := chain.PrivKeyFromSeed(seed)
	if err != nil {
		return chain.PrivKey{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if priv.PubKey() != kf.PubKey {
		return chain.PrivKey{}, fmt.Errorf("%w: seed does not match the recorded public key", ErrCorrupt)
	}
	return priv, nil
}

func encodeKeyFile(kf *keyFile) ([]byte, error) {
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode key file: %w", err)
	}
	return append(b, '\n'), nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
