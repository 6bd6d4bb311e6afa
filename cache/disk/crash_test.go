package disk

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/selfcdn/cdn/cache"
)

const (
	helperDirEnv   = "CDN_DISK_HELPER_DIR"
	helperMaxEnv   = "CDN_DISK_HELPER_MAX"
	helperStartEnv = "CDN_DISK_HELPER_START"
	helperPauseEnv = "CDN_DISK_HELPER_PAUSE_AT"
)

func crashKey(i int) string { return "https://example.com/crash/" + strconv.Itoa(i) }

// crashSize varies body sizes from empty to several blocks.
func crashSize(i int) int { return (i * 104729) % (700 << 10) }

// TestMain runs the writer process of TestKillDuringWrites when the test
// binary is started again with the helper's environment set.
func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDirEnv); dir != "" {
		helperWriter(dir)
	}
	os.Exit(m.Run())
}

// helperWriter is the child process of TestKillDuringWrites: it writes
// into dir until it is killed with SIGKILL, printing what it committed.
func helperWriter(dir string) {
	maxBytes, _ := strconv.ParseInt(os.Getenv(helperMaxEnv), 10, 64)
	s, err := Open(Config{Dir: dir, MaxBytes: maxBytes, MaxObject: 1 << 20})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	start, _ := strconv.Atoi(os.Getenv(helperStartEnv))
	pauseAt := -1
	if p := os.Getenv(helperPauseEnv); p != "" {
		pauseAt, _ = strconv.Atoi(p)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := start; i < start+100_000 && time.Now().Before(deadline); i++ {
		key := crashKey(i)
		if err := helperPut(s, i, pauseAt); err != nil {
			fmt.Println("error", err)
			continue
		}
		switch i % 5 {
		case 1: // replace an earlier object with the same content
			if j := i - 3; j >= start {
				putErr(s, crashKey(j), bodyFor(crashKey(j), crashSize(j)), 64<<10, int64(crashSize(j)))
			}
		case 2:
			h := testHead(200)
			h.Lifetime = time.Duration(i) * time.Second
			s.UpdateHead(key, h)
		case 3:
			mk := cache.NewObject(key+"#vary", key, testHead(200), nil)
			mk.VaryFields = []string{"accept-encoding"}
			s.SetMarker(mk)
		}
		fmt.Println("committed", i)
	}
	os.Exit(0)
}

// helperPut writes object i, saying so when half its body is written.
func helperPut(s *Store, i, pauseAt int) error {
	key := crashKey(i)
	body := bodyFor(key, crashSize(i))
	w, err := s.Create(key)
	if err != nil {
		return err
	}
	for off := 0; off < len(body); off += 16 << 10 {
		if _, err := w.Write(body[off:min(off+16<<10, len(body))]); err != nil {
			w.Abort()
			return err
		}
		if off < len(body)/2 && off+16<<10 >= len(body)/2 {
			fmt.Println("half", i)
			if i == pauseAt {
				// Wait, mid-body, for the SIGKILL (stdin never sends).
				os.Stdin.Read(make([]byte, 1))
			}
		}
	}
	return w.Commit(testObject(key))
}

// TestKillDuringWrites kills a writing process with SIGKILL at several
// points and checks that the reopened store serves only whole, correct
// bodies, keeps every committed object (the page cache survives the
// process), removes leftovers and accounts its bytes exactly.
func TestKillDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	dir := t.TempDir()
	rounds := []struct {
		killAfter int    // commits seen before the kill
		killAt    string // the helper's next line that triggers it
		pause     bool   // the helper waits mid-body for the kill
		maxBytes  int64  // small: evictions run during the kill
	}{
		{15, "half", true, 1 << 30},
		{40, "committed", false, 1 << 30},
		{25, "half", true, 3 << 20},
		{20, "half", false, 2 << 20},
	}
	next := 0
	for r, round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			helperDirEnv+"="+dir,
			helperMaxEnv+"="+strconv.FormatInt(round.maxBytes, 10),
			helperStartEnv+"="+strconv.Itoa(next))
		if round.pause {
			cmd.Env = append(cmd.Env, helperPauseEnv+"="+strconv.Itoa(next+round.killAfter))
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		committed := map[int]bool{}
		last := -1
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error") {
				t.Errorf("round %d: helper: %s", r, line)
			}
			if len(committed) >= round.killAfter && strings.HasPrefix(line, round.killAt) {
				break
			}
			if n, ok := strings.CutPrefix(line, "committed "); ok {
				i, _ := strconv.Atoi(n)
				committed[i] = true
				last = i
			}
		}
		// The helper is writing a body, or just committed one.
		cmd.Process.Kill()
		cmd.Wait()
		if len(committed) < round.killAfter {
			t.Fatalf("round %d: helper stopped after %d commits", r, len(committed))
		}

		s := openStore(t, Config{Dir: dir, MaxBytes: round.maxBytes, MaxObject: 1 << 20})
		if round.pause && s.Stats().OrphansRemoved == 0 {
			t.Errorf("round %d: killed mid-body, but no temporary file was removed", r)
		}
		if left := tmpFiles(t, dir); len(left) != 0 {
			t.Fatalf("round %d: temporary files left after the rebuild: %v", r, left)
		}
		found := 0
		for i := 0; i <= last+1; i++ {
			key := crashKey(i)
			o, ok := s.Get(key)
			if !ok {
				if round.maxBytes >= 1<<30 && committed[i] {
					t.Errorf("round %d: committed %s lost", r, key)
				}
				continue
			}
			found++
			got, err := readBody(t, o, 0)
			if err != nil {
				t.Fatalf("round %d: read %s: %v", r, key, err)
			}
			mustEqualBytes(t, key, got, bodyFor(key, crashSize(i)))
		}
		if used, files := s.Used(), diskBytes(t, dir); used != files || used > round.maxBytes {
			t.Errorf("round %d: Used %d, files %d, limit %d", r, used, files, round.maxBytes)
		}
		t.Logf("round %d: killed after %d commits; %d objects found, %d leftover files removed", r, len(committed), found, s.Stats().OrphansRemoved)
		s.Close()
		next = last + 1
	}
}
