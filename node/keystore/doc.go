// Package keystore keeps the node's and the user's ed25519 keys on disk,
// encrypted at rest.
//
// A keystore is a directory (mode 0700) holding one JSON file per key,
// <name>.json (mode 0600). Two backends write them:
//
//   - "file" (default): the 32-byte seed is sealed with XChaCha20-Poly1305
//     under a key derived from the keyring passphrase by scrypt
//     (N=2^15, r=8, p=1 by default) or argon2id, with a random 32-byte salt
//     and 24-byte nonce per file. The public key is authenticated data, so
//     a record cannot be re-pointed at another key.
//   - "test": the seed is stored in plaintext and the file says so in a
//     "warning" field. For dev and local testnets only.
//
// The format is versioned ("version": 1); a reader rejects other versions.
// Each encrypted record also stores a hash of a second half of the KDF
// output, which is how a wrong passphrase (ErrWrongPassphrase) is told apart
// from a damaged file (ErrCorrupt). Any unreadable, truncated or tampered
// file gives an error wrapping ErrCorrupt, never a panic. File-format
// limits cap the KDF cost a file can ask for.
//
// The passphrase is supplied by the caller as a Passphrase func (the CLI
// prompts on a TTY, or uses PassphraseFromEnv(EnvPassphrase) or
// PassphraseFromFile); it is asked for only when a key is sealed or opened.
// New keys are refused if the passphrase does not open the keys already
// stored, so a typo cannot split one keyring across two passphrases.
//
// Export produces PEM-armored text ("DURE ENCRYPTED PRIVATE KEY") that is
// always encrypted under the keyring passphrase, even from the test backend;
// Import accepts it into any keystore that knows the same passphrase.
//
// Usage:
//
//	ks, err := keystore.Open(filepath.Join(home, "keys"), keystore.BackendFile,
//		keystore.PassphraseFromEnv(keystore.EnvPassphrase))
//	info, err := ks.Add("validator")
//	priv, err := ks.Signer("validator")
package keystore
