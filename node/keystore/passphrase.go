package keystore

import (
	"bytes"
	"fmt"
	"os"
)

// EnvPassphrase is the environment variable the CLI reads the keyring
// passphrase from when no terminal is attached.
const EnvPassphrase = "DURE_KEYRING_PASSPHRASE"

// Passphrase supplies the keyring passphrase on demand. The keystore calls
// it at most once per operation and only when a key must be encrypted or
// decrypted, so a prompt is shown only when needed. The returned slice is
// wiped after use; return a fresh copy each call.
type Passphrase func() ([]byte, error)

// PassphraseFromEnv reads the passphrase from the environment variable name
// (usually EnvPassphrase) each time it is asked.
func PassphraseFromEnv(name string) Passphrase {
	return func() ([]byte, error) {
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return nil, fmt.Errorf("%w: environment variable %s is not set", ErrNoPassphrase, name)
		}
		return []byte(v), nil
	}
}

// PassphraseFromFile reads the passphrase from the first line of a file
// (a trailing newline is not part of it).
func PassphraseFromFile(path string) Passphrase {
	return func() ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: read passphrase file: %v", ErrNoPassphrase, err)
		}
		if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
			b = b[:i]
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: passphrase file %s is empty", ErrNoPassphrase, path)
		}
		return b, nil
	}
}

// StaticPassphrase returns a fixed passphrase; meant for tests and for
// callers that already prompted.
func StaticPassphrase(pass string) Passphrase {
	return func() ([]byte, error) { return []byte(pass), nil }
}
