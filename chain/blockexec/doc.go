// Package blockexec is the block lifecycle around an immutable State
// value: building a proposal, validating a block against the committed
// head, and applying a decided block,
//
//	st2, results, err := x.Apply(st, blk, commit)
//
// which writes the block, its commit, results and state atomically to the
// store and returns the next State. The consensus-critical rules live
// here, not in the executable: header checks, the last commit and
// evidence verification, validator-set rotation (updates decided at H
// sign from H+2, NextValidatorSet), and the genesis validator check.
// It also holds the evidence pool and the block stash (blocks a validator
// proposed or validated, kept durably for WAL replay).
//
// The package does no networking and starts no goroutines. Time comes from
// the Config's clock; the store and state are passed in explicitly.
package blockexec
