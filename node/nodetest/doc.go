// Package nodetest holds the test helpers that node's own tests and
// node/cli's tests share: a free loopback port, a home's config pointed at
// loopback only, an in-process node started until the test ends (Start,
// Node), waiting for a height, signed currency sends, account reads and
// JSON GETs against the API.
//
// It is a normal package imported only by _test.go files. It never imports
// node (node's internal tests import it, so that would be a cycle): the
// caller passes node.Open (or node's unexported Open) as an OpenFunc and
// the native denomination as an argument. Each helper takes the test's
// testing.TB and fails it on error.
package nodetest
