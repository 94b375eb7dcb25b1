package testnet

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeStep is one command of a README walk-through and the output
// fragments its comment lines promise.
type readmeStep struct {
	line   int
	cmd    string
	expect []string // `"key": value` comment lines after the command
}

// readmeSteps reads the ```sh blocks of the README sections whose
// headings start with one of sections, joining continued lines and
// dropping shell assignments and prose comments.
func readmeSteps(t *testing.T, readme string, sections ...string) []readmeStep {
	t.Helper()
	var steps []readmeStep
	in, block := false, false
	pending := ""
	for i, l := range strings.Split(readme, "\n") {
		if strings.HasPrefix(l, "## ") {
			in = false
			for _, s := range sections {
				if strings.HasPrefix(l, "## "+s) {
					in = true
				}
			}
			continue
		}
		if !in {
			continue
		}
		if strings.HasPrefix(l, "```") {
			block = strings.TrimPrefix(l, "```") == "sh" && !block
			continue
		}
		if !block {
			continue
		}
		trim := strings.TrimSpace(l)
		switch {
		case pending != "":
			pending += " " + strings.TrimSuffix(trim, "\\")
			if !strings.HasSuffix(trim, "\\") {
				steps[len(steps)-1].cmd = pending
				pending = ""
			}
		case strings.HasPrefix(trim, "#"):
			c := strings.TrimSpace(strings.TrimPrefix(trim, "#"))
			if strings.HasPrefix(c, `"`) && len(steps) > 0 {
				if j := strings.Index(c, "←"); j >= 0 {
					c = c[:j]
				}
				steps[len(steps)-1].expect = append(steps[len(steps)-1].expect, strings.TrimSpace(c))
			}
		case strings.HasPrefix(trim, "./dure ") || strings.HasPrefix(trim, "dure "):
			if j := strings.Index(trim, "  #"); j >= 0 {
				trim = strings.TrimSpace(trim[:j])
			}
			steps = append(steps, readmeStep{line: i + 1, cmd: strings.TrimSuffix(trim, "\\")})
			if strings.HasSuffix(trim, "\\") {
				pending = strings.TrimSpace(strings.TrimSuffix(trim, "\\"))
			}
		}
	}
	return steps
}

var (
	reSpace   = regexp.MustCompile(`\s+`)
	reAddr    = regexp.MustCompile(`dure1[02-9ac-hj-np-z]*`)
	reCID     = regexp.MustCompile(`bafy[a-z2-7]*`)
	reHex     = regexp.MustCompile(`[0-9a-f]{6,}`)
	reBlock   = regexp.MustCompile(`block\d+`)
	reExpires = regexp.MustCompile(`"expires":\d+`)
	reTxID    = regexp.MustCompile(`bafyrei[a-z2-7]{40,}`)
)

// readmeNorm makes README fragments and real output comparable: no
// whitespace, and what differs between runs (addresses, IDs, hashes,
// heights, lot expiry times) masked. Amounts, codes, denoms and messages
// stay.
func readmeNorm(s string) string {
	s = reAddr.ReplaceAllString(s, "dure1")
	s = reCID.ReplaceAllString(s, "bafy")
	s = reHex.ReplaceAllString(s, "H")
	s = reSpace.ReplaceAllString(s, "")
	s = reBlock.ReplaceAllString(s, "blockN")
	return reExpires.ReplaceAllString(s, `"expires":N`)
}

// TestREADMEWalkthroughs runs the README's walk-through and its city
// currency examples, command for command, against a real 4-validator
// testnet, and checks each command's exit code (1 where the README says a
// tx is refused) and every output fragment the README shows after it.
func TestREADMEWalkthroughs(t *testing.T) {
	slow(t)
	parallelScenario(t)
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	steps := readmeSteps(t, string(raw), "Walk-through", "A city's local currency")
	if len(steps) < 20 {
		t.Fatalf("found only %d README commands", len(steps))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	p := n.Procs[0]
	lastTx := ""
	for _, s := range steps {
		cmd := strings.ReplaceAll(s.cmd, "$T", "")
		cmd = strings.ReplaceAll(cmd, "--home $D --keyring-backend test", "")
		if lastTx != "" {
			cmd = reTxID.ReplaceAllString(cmd, lastTx)
		}
		args := strings.Fields(cmd)[1:] // drop "dure" / "./dure"
		for i, a := range args {
			args[i] = strings.Trim(a, `"`)
		}
		want := 0
		for _, e := range s.expect {
			if strings.HasPrefix(e, `"log"`) {
				want = 1 // the README shows a refused tx's log
			}
		}
		n.caughtUp(ctx, p)
		out, stderr, code := n.cliRun(ctx, p, args...)
		if code != want {
			t.Errorf("README.md:%d: %s: exit %d, want %d\n%s\n%s", s.line, s.cmd, code, want, out, stderr)
			continue
		}
		if args[0] == "tx" {
			if m := reTxID.FindString(out); m != "" {
				lastTx = m
			}
		}
		got := readmeNorm(out)
		for _, e := range s.expect {
			for _, frag := range strings.Split(e, "…") {
				f := strings.TrimSuffix(readmeNorm(frag), ",")
				if f == "" || f == `"` {
					continue
				}
				if !strings.Contains(got, strings.Trim(f, `"`)) {
					t.Errorf("README.md:%d: %s: output does not show %s (README: %s)\n%s", s.line, s.cmd, frag, e, out)
				}
			}
		}
	}
}
