// Command testsummary reads `go test -json` on stdin and prints what a
// person needs from a test run: the output of every failed test and
// package (build errors included), each skipped test with its reason, and
// a last line "tests: N passed, N failed, N skipped". It exits 1 when any
// test, package or build failed, or when the input held no test event.
//
//	go test -json ./... 2>&1 | go run ./scripts/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output and build-fail
}

// summary is what a run amounted to.
type summary struct {
	passed, failed, skipped int
	pkgFailed               int
	skips                   []string // "pkg TestX: reason"
	bad                     bool     // a failure of any kind
}

type testKey struct{ pkg, test string }

// summarize copies the output worth reading to w and returns the counts.
func summarize(r io.Reader, w io.Writer) summary {
	var s summary
	output := map[testKey][]string{}
	build := map[string][]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	sawEvent := false
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil || ev.Action == "" {
			// Not an event: go vet or build errors on stderr, a panic
			// outside a test. Always shown.
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		sawEvent = true
		k := testKey{ev.Package, ev.Test}
		switch ev.Action {
		case "output":
			output[k] = append(output[k], ev.Output)
		case "build-output":
			build[ev.ImportPath] = append(build[ev.ImportPath], ev.Output)
		case "build-fail":
			s.bad = true
			fmt.Fprintf(w, "--- BUILD FAIL: %s\n%s", ev.ImportPath, strings.Join(build[ev.ImportPath], ""))
		case "pass":
			if ev.Test != "" {
				s.passed++
			}
			delete(output, k)
		case "skip":
			if ev.Test != "" {
				s.skipped++
				s.skips = append(s.skips, fmt.Sprintf("%s %s: %s", ev.Package, ev.Test, skipReason(output[k])))
			}
			delete(output, k)
		case "fail":
			s.bad = true
			if ev.Test != "" {
				s.failed++
			} else {
				s.pkgFailed++
			}
			fmt.Fprint(w, strings.Join(output[k], ""))
			delete(output, k)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(w, "testsummary: reading go test -json: %v\n", err)
		s.bad = true
	}
	if !sawEvent {
		fmt.Fprintln(w, "testsummary: no test events in the input")
		s.bad = true
	}
	sort.Strings(s.skips)
	if s.pkgFailed > 0 && s.failed == 0 {
		fmt.Fprintf(w, "%d package(s) failed outside any test (build error, panic or timeout; see above)\n", s.pkgFailed)
	}
	for _, sk := range s.skips {
		fmt.Fprintf(w, "skipped: %s\n", sk)
	}
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
	return s
}

// skipReason is the message a test gave t.Skip: its last output line
// other than the "--- SKIP" and "=== RUN" lines.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		// "file_test.go:12: reason"
		if f, rest, ok := strings.Cut(l, ": "); ok && strings.Contains(f, ".go:") {
			return rest
		}
		return l
	}
	return "(no reason given)"
}

func main() {
	if s := summarize(os.Stdin, os.Stdout); s.bad {
		os.Exit(1)
	}
}
