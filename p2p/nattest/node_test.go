package nattest_test

import "errors"

func nodeMain(arg string) error { return errors.New("todo") }
