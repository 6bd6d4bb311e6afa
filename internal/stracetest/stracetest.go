// Package stracetest checks which system calls a test's code makes: the
// test runs itself again in a child process under strace and counts what
// one system call moved. Tests use it to pin zero-copy paths (splice,
// sendfile) that a wrapper around a connection would silently lose.
package stracetest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// childEnv marks the child process.
const childEnv = "CDN_STRACETEST_CHILD"

// Child reports whether this process is the traced child of Run: the test
// then does its work and returns.
func Child() bool { return os.Getenv(childEnv) != "" }

// Run runs the test named name (the calling test) again under
// `strace -f -e trace=call` and returns how many calls of call succeeded
// and the bytes they returned. It skips only where strace cannot be had:
// it is missing and this process is not root (make's deps-test installs it
// as root), or the kernel refuses ptrace here. A missing strace on a root
// machine fails the test, since the install should have happened.
func Run(t *testing.T, name, call string) (calls, bytes int64) {
	t.Helper()
	strace, err := exec.LookPath("strace")
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skip("strace is not installed and cannot be as this user (make test installs it as root)")
		}
		t.Fatal("strace is not installed: make test installs it (deps-test)")
	}
	out := filepath.Join(t.TempDir(), "strace.txt")
	cmd := exec.Command(strace, "-f", "-e", "trace="+call, "-o", out,
		os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		if s := string(b); strings.Contains(s, "ptrace") && (strings.Contains(s, "Operation not permitted") || strings.Contains(s, "EPERM")) {
			t.Skipf("the kernel does not permit ptrace here: %s", firstLine(s))
		}
		t.Fatalf("child under strace: %v\n%s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		// With -f, a call another thread interrupts is written as
		// "call(... <unfinished ...>" and later "<... call resumed> ...)
		// = N": the result is on the resumed line.
		if strings.Contains(line, "<unfinished") || !strings.Contains(line, call+"(") && !strings.Contains(line, call+" resumed>") {
			continue
		}
		i := strings.LastIndex(line, "= ")
		if i < 0 {
			continue
		}
		if n, err := strconv.ParseInt(strings.Fields(line[i+2:])[0], 10, 64); err == nil && n > 0 {
			calls++
			bytes += n
		}
	}
	return calls, bytes
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
