package loadtest

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Zipf draws object ranks 0..n-1 where rank k has probability proportional
// to 1/(k+1)^s. Unlike math/rand's Zipf it accepts any s >= 0 (web object
// popularity is usually measured at s between 0.6 and 1.0). It is safe for
// concurrent use: it holds only the read-only cumulative distribution.
type Zipf struct {
	cdf []float64
}

// NewZipf returns a sampler over n objects with exponent s. It costs 8n
// bytes of memory.
func NewZipf(n int, s float64) (*Zipf, error) {
	if n <= 0 {
		return nil, fmt.Errorf("zipf over %d objects: need at least one", n)
	}
	if s < 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return nil, fmt.Errorf("zipf exponent %g: must be a number >= 0", s)
	}
	cdf := make([]float64, n)
	sum := 0.0
	for k := range cdf {
		sum += math.Pow(float64(k+1), -s)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	return &Zipf{cdf: cdf}, nil
}

// Next returns a rank drawn with r.
func (z *Zipf) Next(r *rand.Rand) int {
	u := r.Float64()
	i := sort.SearchFloat64s(z.cdf, u)
	if i >= len(z.cdf) {
		i = len(z.cdf) - 1
	}
	return i
}

// Share returns the probability of rank k.
func (z *Zipf) Share(k int) float64 {
	if k < 0 || k >= len(z.cdf) {
		return 0
	}
	if k == 0 {
		return z.cdf[0]
	}
	return z.cdf[k] - z.cdf[k-1]
}

// ParseSizes parses a size distribution such as "1KiB:70,64KiB:25,1MiB:5":
// comma-separated size:weight pairs, sizes in bytes with an optional B, KB,
// MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024) suffix. A pair
// without a weight has weight 1.
func ParseSizes(s string) ([]SizeWeight, error) {
	var out []SizeWeight
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sizeStr, weightStr, hasWeight := strings.Cut(part, ":")
		size, err := ParseBytes(sizeStr)
		if err != nil {
			return nil, fmt.Errorf("parse sizes %q: %w", s, err)
		}
		w := 1.0
		if hasWeight {
			w, err = strconv.ParseFloat(strings.TrimSpace(weightStr), 64)
			if err != nil || w < 0 || math.IsInf(w, 0) || math.IsNaN(w) {
				return nil, fmt.Errorf("parse sizes %q: weight %q is not a number >= 0", s, weightStr)
			}
		}
		out = append(out, SizeWeight{Bytes: size, Weight: w})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("parse sizes %q: no size given", s)
	}
	return out, nil
}

// ParseBytes parses a byte count with an optional unit suffix (B, KB, MB,
// GB, KiB, MiB, GiB; case-insensitive).
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
		{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
	}
	lower := strings.ToLower(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			mult = u.mult
			lower = strings.TrimSpace(strings.TrimSuffix(lower, u.suffix))
			break
		}
	}
	n, err := strconv.ParseFloat(lower, 64)
	if err != nil || n < 0 || math.IsNaN(n) || n*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("size %q: want a number of bytes such as 1024, 64KiB or 1MiB", s)
	}
	return int64(n * float64(mult)), nil
}

// ParseTrace reads a trace: one request a line, "[METHOD] URL-or-path".
// Blank lines and lines starting with # are skipped.
func ParseTrace(r io.Reader) ([]TraceEntry, error) {
	var out []TraceEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		var e TraceEntry
		switch len(fields) {
		case 1:
			e.Target = fields[0]
		case 2:
			e.Method, e.Target = fields[0], fields[1]
			if !validMethod(e.Method) {
				return nil, fmt.Errorf("trace line %d: invalid method %q", line, e.Method)
			}
		default:
			return nil, fmt.Errorf("trace line %d: want \"[METHOD] URL-or-path\", got %q", line, text)
		}
		if !isAbsoluteURL(e.Target) && !strings.HasPrefix(e.Target, "/") {
			return nil, fmt.Errorf("trace line %d: %q is neither an absolute URL nor a path", line, e.Target)
		}
		if _, err := url.Parse(e.Target); err != nil {
			return nil, fmt.Errorf("trace line %d: %w", line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read trace after line %d: %w", line, err)
	}
	return out, nil
}

// ReadTrace reads the trace file at path (see ParseTrace).
func ReadTrace(path string) ([]TraceEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open trace: %w", err)
	}
	defer f.Close()
	entries, err := ParseTrace(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("trace %s: no requests in it", path)
	}
	return entries, nil
}

// request is one request the workload asks for: an absolute URL, or a path
// to send to one of the run's targets.
type request struct {
	method string
	target string
}

// workload turns tickets into requests. It is read-only after newWorkload,
// so every client shares it.
type workload struct {
	trace     []TraceEntry
	traceLoop bool
	zipf      *Zipf
	paths     []string // per object rank, precomputed
	uniform   int      // objects when uniform popularity
}

func newWorkload(w Workload, objectURLs []string, seed uint64) (*workload, error) {
	if len(w.Trace) > 0 {
		return &workload{trace: w.Trace, traceLoop: w.TraceLoop}, nil
	}
	paths := objectURLs
	if len(paths) == 0 {
		paths = objectPaths(w, seed)
	}
	wl := &workload{paths: paths}
	if w.Uniform {
		wl.uniform = len(paths)
		return wl, nil
	}
	z, err := NewZipf(len(paths), w.Zipf)
	if err != nil {
		return nil, err
	}
	wl.zipf = z
	return wl, nil
}

// objectPaths gives every object its path, drawing each object's size
// once from the size distribution with a generator seeded by seed.
func objectPaths(w Workload, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 0x6f626a73))
	total := 0.0
	for _, s := range w.Sizes {
		total += s.Weight
	}
	cc := url.QueryEscape(w.CacheControl)
	paths := make([]string, w.Objects)
	for i := range paths {
		size := int64(0)
		if len(w.Sizes) > 0 {
			u := r.Float64() * total
			size = w.Sizes[len(w.Sizes)-1].Bytes
			for _, s := range w.Sizes {
				if u < s.Weight {
					size = s.Bytes
					break
				}
				u -= s.Weight
			}
		}
		p := strings.ReplaceAll(w.PathTemplate, "{i}", strconv.Itoa(i))
		p = strings.ReplaceAll(p, "{size}", strconv.FormatInt(size, 10))
		p = strings.ReplaceAll(p, "{cc}", cc)
		paths[i] = p
	}
	return paths
}

// next returns the request for ticket i drawn with r; ok is false when a
// trace that does not loop is exhausted.
func (w *workload) next(i int64, r *rand.Rand) (req request, ok bool) {
	if len(w.trace) > 0 {
		if i >= int64(len(w.trace)) {
			if !w.traceLoop {
				return request{}, false
			}
			i %= int64(len(w.trace))
		}
		e := w.trace[i]
		m := e.Method
		if m == "" {
			m = "GET"
		}
		return request{method: m, target: e.Target}, true
	}
	var k int
	if w.zipf != nil {
		k = w.zipf.Next(r)
	} else {
		k = r.IntN(w.uniform)
	}
	return request{method: "GET", target: w.paths[k]}, true
}

// describe is a one-line account of the workload for reports.
func (w Workload) describe(objectURLs int) string {
	if len(w.Trace) > 0 {
		loop := ""
		if w.TraceLoop {
			loop = ", looped"
		}
		return fmt.Sprintf("trace of %d requests%s", len(w.Trace), loop)
	}
	n := w.Objects
	if objectURLs > 0 {
		n = objectURLs
	}
	pop := fmt.Sprintf("zipf s=%g", w.Zipf)
	if w.Uniform {
		pop = "uniform"
	}
	if objectURLs > 0 {
		return fmt.Sprintf("%s over %d URLs", pop, n)
	}
	sizes := make([]string, len(w.Sizes))
	for i, s := range w.Sizes {
		sizes[i] = fmt.Sprintf("%s:%g", formatBytes(s.Bytes), s.Weight)
	}
	return fmt.Sprintf("%s over %d objects, sizes %s", pop, n, strings.Join(sizes, ","))
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
