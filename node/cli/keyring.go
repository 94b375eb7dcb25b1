package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/keystore"
)

// passphraseSource picks, in order: --passphrase-file / config
// passphrase_file, DURE_KEYRING_PASSPHRASE, then a terminal prompt.
func passphraseSource(file string, stderr io.Writer) keystore.Passphrase {
	if file != "" {
		return keystore.PassphraseFromFile(file)
	}
	if v, ok := os.LookupEnv(keystore.EnvPassphrase); ok && v != "" {
		return keystore.PassphraseFromEnv(keystore.EnvPassphrase)
	}
	return func() ([]byte, error) {
		fd := int(os.Stdin.Fd())
		if !term.IsTerminal(fd) {
			return nil, fmt.Errorf("%w: set %s, use --passphrase-file, or run in a terminal", keystore.ErrNoPassphrase, keystore.EnvPassphrase)
		}
		fmt.Fprint(stderr, "Keyring passphrase: ")
		p, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		return p, nil
	}
}

// openKeyring opens the keyring of a home, honouring flags over config.
func openKeyring(cfg config.Config, backendFlag, passFile string, stderr io.Writer) (*keystore.Keystore, error) {
	backend := cfg.Keyring.Backend
	if backendFlag != "" {
		backend = backendFlag
	}
	if passFile == "" && cfg.Keyring.PassphraseFile != "" {
		passFile = cfg.PassphrasePath()
	}
	ks, err := keystore.Open(cfg.KeysPath(), keystore.Backend(backend), passphraseSource(passFile, stderr))
	if err != nil {
		if errors.Is(err, keystore.ErrBadBackend) {
			return nil, usageErr("%v", err)
		}
		return nil, err
	}
	return ks, nil
}

// loadConfig reads home/config.toml; a missing file gets a hint to init.
func loadConfig(home string) (config.Config, error) {
	path := home + "/" + config.FileName
	cfg, err := config.Load(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return cfg, usageErr("no %s in %s: run 'dure init --chain-id <id> --home %s' first", config.FileName, home, home)
		}
		return cfg, usageErr("%v", err)
	}
	return cfg, nil
}

// keyringCfg loads the config if present, else defaults for the home (so
// `dure keys` works before `dure init`).
func keyringCfg(home string) config.Config {
	cfg, err := config.Load(home + "/" + config.FileName)
	if err != nil {
		return config.Default(home)
	}
	return cfg
}
