package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer many goroutines may write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// duplicateKeys returns the keys that occur more than once at the top
// level of one JSON object.
func duplicateKeys(line []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	seen := map[string]bool{}
	var dups []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k := t.(string)
		if seen[k] {
			dups = append(dups, k)
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return dups, nil
}

// Every log line of a whole simulation, from start to a clean stop, is
// one JSON object without duplicate keys, and a clean stop logs no
// warnings or errors.
func TestSimulationLogsAreCleanJSON(t *testing.T) {
	var out syncBuffer
	var stopping syncBuffer // the lines logged after the stop began
	var mu sync.Mutex
	stopped := false
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		s := stopped
		mu.Unlock()
		if s {
			stopping.Write(p)
		}
		return out.Write(p)
	})
	log := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := startTestSim(t, func(o *Options) { o.Logger = log })
	ep := s.Endpoints()
	r := s.Regions()[0]
	edgeAddr := popEdges(ep, r.PoP)[0]
	for range 2 {
		fetchFrom(t, s, r.ClientAddr(), edgeAddr, "/gen/logs?size=512&cc=public,max-age=600").Body.Close()
	}
	mu.Lock()
	stopped = true
	mu.Unlock()
	if err := s.Stop(); err != nil {
		t.Fatalf("simulation stopped with: %v", err)
	}

	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		dups, err := duplicateKeys(sc.Bytes())
		if err != nil {
			t.Errorf("log line is not JSON (%v): %s", err, sc.Text())
			continue
		}
		if len(dups) > 0 {
			t.Errorf("log line repeats %v: %s", dups, sc.Text())
		}
	}
	if lines == 0 {
		t.Fatal("the simulation logged nothing")
	}
	sc = bufio.NewScanner(strings.NewReader(stopping.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct{ Level string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && (l.Level == "WARN" || l.Level == "ERROR") {
			t.Errorf("a clean stop logged: %s", sc.Text())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
