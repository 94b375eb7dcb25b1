package node

import (
	"errors"

	"github.com/dure-network/dure/chain/store"
)

// ErrSetup marks an error of Open or Run that the operator fixes outside
// the running process: config.toml, genesis.json, the data directory, a
// listen address, the open-file limit. `dure` exits 2 on it.
var ErrSetup = errors.New("node: bad config, genesis, data directory or listen address")

// kindError marks err with a kind (ErrSetup or ErrDiskLow) without
// changing its message.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string        { return e.err.Error() }
func (e *kindError) Unwrap() error        { return e.err }
func (e *kindError) Is(target error) bool { return target == e.kind }

func setupErr(err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: ErrSetup, err: err}
}

func diskLowErr(err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: ErrDiskLow, err: err}
}

// Kind is the outermost mark Open, Run, ExportGenesis or ProveStored put on err:
// ErrSetup, ErrDiskLow, or nil for any other failure. The CLI turns it
// into an exit code (2, 5, 1); the outermost mark wins, so a setup error
// whose cause is a full disk is still a setup error.
func Kind(err error) error {
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	return nil
}

// markStoreErr marks a damaged or locked store as a setup error, whatever
// else marks the error: the operator repairs or frees the data directory.
func markStoreErr(err error) error {
	if errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrLocked) {
		return setupErr(err)
	}
	return err
}
