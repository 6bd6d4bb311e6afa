package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: needs root for nftables\n"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"--- SKIP: TestB (0.00s)\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestB"}`,
		`{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:3: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestC"}`,
		`{"Action":"fail","Package":"p"}`,
		`{"ImportPath":"q [q.test]","Action":"build-output","Output":"q/x.go:1:1: syntax error\n"}`,
		`{"ImportPath":"q [q.test]","Action":"build-fail"}`,
		`# a line that is not JSON`,
	}, "\n")
	var out strings.Builder
	s := summarize(strings.NewReader(in), &out)
	if s.passed != 1 || s.failed != 1 || s.skipped != 1 || !s.bad {
		t.Fatalf("summary %+v", s)
	}
	got := out.String()
	for _, want := range []string{"c_test.go:3: boom", "q/x.go:1:1: syntax error", "# a line that is not JSON",
		"skipped: p TestB: needs root for nftables\ntests: 1 passed, 1 failed, 1 skipped\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasSuffix(got, "tests: 1 passed, 1 failed, 1 skipped\n") {
		t.Errorf("summary is not the last line:\n%s", got)
	}
}

func TestSummarizeClean(t *testing.T) {
	var out strings.Builder
	s := summarize(strings.NewReader(`{"Action":"pass","Package":"p","Test":"TestA"}`+"\n"+`{"Action":"pass","Package":"p"}`), &out)
	if s.bad || out.String() != "tests: 1 passed, 0 failed, 0 skipped\n" {
		t.Fatalf("clean run: %+v %q", s, out.String())
	}
}

func TestSummarizeNoInput(t *testing.T) {
	var out strings.Builder
	if s := summarize(strings.NewReader(""), &out); !s.bad {
		t.Fatal("empty input counted as success")
	}
}
