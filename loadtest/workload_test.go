package loadtest

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestZipfShape(t *testing.T) {
	const n, draws = 100, 200000
	z, err := NewZipf(n, 1.0)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(42, 1))
	counts := make([]int, n)
	for range draws {
		counts[z.Next(r)]++
	}
	for k := 1; k < n; k++ {
		if counts[0] <= counts[k] {
			t.Fatalf("rank 0 drawn %d times, rank %d %d times: the most popular must lead", counts[0], k, counts[k])
		}
	}
	// Shares follow 1/k: rank 0 twice rank 1, ten times rank 9, within
	// sampling noise.
	for _, k := range []int{1, 9} {
		want := float64(k + 1)
		got := float64(counts[0]) / float64(counts[k])
		if math.Abs(got-want)/want > 0.15 {
			t.Errorf("count ratio rank0/rank%d = %.2f, want about %.0f", k, got, want)
		}
	}
	// Deterministic for a seed.
	r1, r2 := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	for i := range 1000 {
		if a, b := z.Next(r1), z.Next(r2); a != b {
			t.Fatalf("draw %d differs with one seed: %d vs %d", i, a, b)
		}
	}
	// s = 0 is uniform.
	u, _ := NewZipf(4, 0)
	for k := range 4 {
		if s := u.Share(k); math.Abs(s-0.25) > 1e-9 {
			t.Errorf("uniform share of %d = %g, want 0.25", k, s)
		}
	}
}

func TestNewZipfRejects(t *testing.T) {
	for _, tc := range []struct {
		n int
		s float64
	}{{0, 1}, {-1, 1}, {10, -0.5}, {10, math.NaN()}, {10, math.Inf(1)}} {
		if _, err := NewZipf(tc.n, tc.s); err == nil {
			t.Errorf("NewZipf(%d, %g) accepted", tc.n, tc.s)
		}
	}
}

func TestParseSizes(t *testing.T) {
	got, err := ParseSizes("1KiB:70, 64KiB:25,1MiB:5,100,2kb:0.5")
	if err != nil {
		t.Fatal(err)
	}
	want := []SizeWeight{{1024, 70}, {65536, 25}, {1 << 20, 5}, {100, 1}, {2000, 0.5}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"", "abc", "1KiB:x", "1KiB:-1", "-5", "1XB:1"} {
		if _, err := ParseSizes(bad); err == nil {
			t.Errorf("ParseSizes(%q) accepted", bad)
		}
	}
}

func TestObjectPathsSizesFollowWeights(t *testing.T) {
	w := Workload{Objects: 10000, PathTemplate: "/o/{i}?s={size}&cc={cc}", CacheControl: "max-age=60",
		Sizes: []SizeWeight{{1, 70}, {2, 25}, {3, 5}}}
	paths := objectPaths(w, 1)
	if paths[7] != "/o/7?s="+strings.SplitN(strings.SplitN(paths[7], "s=", 2)[1], "&", 2)[0]+"&cc=max-age%3D60" {
		t.Errorf("path 7 = %q: template not filled as expected", paths[7])
	}
	counts := map[string]int{}
	for _, p := range paths {
		counts[strings.SplitN(strings.SplitN(p, "s=", 2)[1], "&", 2)[0]]++
	}
	for size, want := range map[string]float64{"1": 0.70, "2": 0.25, "3": 0.05} {
		got := float64(counts[size]) / float64(len(paths))
		if math.Abs(got-want) > 0.03 {
			t.Errorf("share of size %s = %.3f, want about %.2f", size, got, want)
		}
	}
	again := objectPaths(w, 1)
	for i := range paths {
		if paths[i] != again[i] {
			t.Fatalf("object %d path differs between two builds with one seed", i)
		}
	}
}

func TestParseTrace(t *testing.T) {
	in := "# a trace\nGET /a\n\n/b?x=1\nHEAD http://example.com/c\n  POST   /d  \n"
	got, err := ParseTrace(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []TraceEntry{{"GET", "/a"}, {"", "/b?x=1"}, {"HEAD", "http://example.com/c"}, {"POST", "/d"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"GET /a extra", "relative/path", "G(T /a", "GET ftp-ish"} {
		if _, err := ParseTrace(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseTrace(%q) accepted", bad)
		}
	}
}

func FuzzParseTrace(f *testing.F) {
	f.Add("GET /a\nHEAD http://h/b\n# c\n")
	f.Add("/x?y=%zz\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := ParseTrace(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Target == "" {
				t.Fatalf("empty target accepted from %q", in)
			}
		}
	})
}
