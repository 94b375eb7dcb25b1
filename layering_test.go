package main

import (
	"bufio"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The import rules live in README.md's Layout section, as lines such as
//
//	    consensus  may import: chain
//	    consensus  core must not import: net os github.com/libp2p/
//
// TestLayering reads them there and checks every non-test file of the
// repository against them, so the rules and the check cannot drift apart.

const module = "github.com/dure-network/dure/"

var (
	mayRe    = regexp.MustCompile(`^\s+(\S+)\s+may import:\s*(.*)$`)
	mustNotR = regexp.MustCompile(`^\s+(\S+)\s+core must not import:\s*(.*)$`)
)

type rules struct {
	may     map[string][]string // unit → units it may import ("*": any)
	mustNot map[string][]string // package dir → import prefixes it must not use
}

func readRules(t *testing.T) rules {
	t.Helper()
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rules{may: map[string][]string{}, mustNot: map[string][]string{}}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Layout"
			continue
		}
		if !in {
			continue
		}
		if m := mustNotR.FindStringSubmatch(line); m != nil {
			r.mustNot[m[1]] = strings.Fields(m[2])
		} else if m := mayRe.FindStringSubmatch(line); m != nil {
			list := m[2]
			if i := strings.Index(list, "("); i >= 0 {
				list = list[:i]
			}
			r.may[m[1]] = strings.Fields(list)
		}
	}
	if len(r.may) == 0 {
		t.Fatal("README.md's Layout section states no import rules")
	}
	return r
}

// unit is the layering unit of a package directory: its top directory,
// except under apps/, where every app is a unit of its own, and a
// subdirectory the rules name (node/cli), which is a unit with its
// subpackages.
func unit(r rules, dir string) string {
	if dir == "." {
		return "."
	}
	for u := range r.may {
		if strings.Contains(u, "/") && !strings.HasSuffix(u, "/*") && (dir == u || strings.HasPrefix(dir, u+"/")) {
			return u
		}
	}
	parts := strings.Split(dir, "/")
	if parts[0] == "apps" && len(parts) > 1 {
		return "apps/" + parts[1]
	}
	return parts[0]
}

func ruleFor(r rules, u string) ([]string, bool) {
	if v, ok := r.may[u]; ok {
		return v, true
	}
	if strings.HasPrefix(u, "apps/") {
		v, ok := r.may["apps/*"]
		return v, ok
	}
	return nil, false
}

func TestLayering(t *testing.T) {
	r := readRules(t)
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		from := unit(r, dir)
		allowed, ok := ruleFor(r, from)
		if !ok {
			t.Errorf("%s: README.md's Layout section has no rule for %q", path, from)
			return nil
		}
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			for _, bad := range r.mustNot[dir] {
				if imp == bad || strings.HasPrefix(imp, bad) {
					t.Errorf("%s imports %s: %s must not (README.md, Layout)", path, imp, dir)
				}
			}
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to := unit(r, strings.TrimPrefix(imp, module))
			if to == from || slices.Contains(allowed, "*") || slices.Contains(allowed, to) ||
				(strings.HasPrefix(to, "apps/") && slices.Contains(allowed, "apps/*")) {
				continue
			}
			t.Errorf("%s imports %s: %s may import only %v (README.md, Layout)", path, imp, from, allowed)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
