package disk

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDiskFull runs the store on a 2 MiB tmpfs with a limit larger than
// the file system, so writes meet ENOSPC: they fail cleanly, nothing
// partial is served, errors are counted, and after repeated failures the
// store refuses writes for its cool-down.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; TestFileSystemFaults covers errors without it")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("mount -t tmpfs failed (%v: %s); TestFileSystemFaults covers errors without it", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	clock := &fixedClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	dir := filepath.Join(mnt, "cache")
	s := openStore(t, Config{Dir: dir, MaxBytes: 16 << 20, MaxObject: 1 << 20, Now: clock.Now, Registerer: reg, DegradeAfter: 3, DegradeFor: time.Minute})
	t.Cleanup(func() { s.Close() }) // before the unmount

	stored := map[string]int{}
	var sawENOSPC, sawDegraded bool
	for i := range 100 {
		key := "k" + itoa(i)
		size := 150<<10 + i
		err := putErr(s, key, bodyFor(key, size), 32<<10, -1)
		switch {
		case err == nil:
			stored[key] = size
		case errors.Is(err, syscall.ENOSPC):
			sawENOSPC = true
		case errors.Is(err, ErrDegraded):
			sawDegraded = true
		default:
			t.Fatalf("store %s: unexpected error %v", key, err)
		}
		if sawDegraded {
			break
		}
	}
	if !sawENOSPC || !sawDegraded {
		t.Fatalf("ENOSPC seen %v, degraded %v", sawENOSPC, sawDegraded)
	}
	if got := metricValue(t, reg, "cdn_disk_degraded", nil); got != 1 {
		t.Errorf("cdn_disk_degraded = %v", got)
	}
	if got := metricValue(t, reg, "cdn_disk_errors_total", map[string]string{"op": opWrite}) +
		metricValue(t, reg, "cdn_disk_errors_total", map[string]string{"op": opCommit}); got < 3 {
		t.Errorf("write and commit errors counted = %v, want at least 3", got)
	}
	for key, size := range stored {
		o, ok := s.Get(key)
		if !ok {
			t.Fatalf("%s: stored, then lost", key)
		}
		got, err := readBody(t, o, 0)
		if err != nil {
			t.Fatal(err)
		}
		mustEqualBytes(t, key, got, bodyFor(key, size))
	}
	if left := tmpFiles(t, dir); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	if s.Used() != diskBytes(t, dir) {
		t.Fatalf("Used %d, files %d", s.Used(), diskBytes(t, dir))
	}

	// After the cool-down, writes are tried again; freeing space lets
	// them succeed.
	clock.Advance(2 * time.Minute)
	for key := range stored {
		s.Delete(key)
	}
	if err := putErr(s, "after", bodyFor("after", 1000), 1000, -1); err != nil {
		t.Fatalf("write after the cool-down: %v", err)
	}
}

// TestFileSystemFaults injects errors without privileges: a temporary
// folder that is a file (Create fails) and a fan-out folder that is a
// file (Commit's rename fails). Both fail cleanly and are counted.
func TestFileSystemFaults(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	s := openStore(t, Config{Dir: dir, MaxBytes: 16 << 20, Registerer: reg, DegradeAfter: -1})

	key := "blocked"
	top := filepath.Dir(s.leafDir(hashKey(key)))
	if err := os.WriteFile(top, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := putErr(s, key, bodyFor(key, 10000), 1000, -1)
	if err == nil {
		t.Fatal("Commit into a blocked folder succeeded")
	}
	if _, ok := s.Get(key); ok {
		t.Fatal("failed commit is served")
	}
	if got := metricValue(t, reg, "cdn_disk_errors_total", map[string]string{"op": opCommit}); got != 1 {
		t.Errorf("commit errors = %v, want 1", got)
	}
	os.Remove(top)
	if s.Used() != 0 || len(tmpFiles(t, dir)) != 0 {
		t.Fatalf("after failed commit: Used %d, temp files %v", s.Used(), tmpFiles(t, dir))
	}

	tmp := filepath.Join(dir, tmpDirName)
	os.RemoveAll(tmp)
	os.WriteFile(tmp, []byte("x"), 0o644)
	if _, err := s.Create("x"); err == nil {
		t.Fatal("Create with a broken temporary folder succeeded")
	}
	if got := metricValue(t, reg, "cdn_disk_errors_total", map[string]string{"op": opCreate}); got != 1 {
		t.Errorf("create errors = %v, want 1", got)
	}
	if s.Used() != 0 {
		t.Fatalf("Used %d after failed Create", s.Used())
	}

	if os.Geteuid() != 0 {
		os.Remove(tmp)
		os.Mkdir(tmp, 0o500)
		defer os.Chmod(tmp, 0o755)
		if _, err := s.Create("y"); !errors.Is(err, os.ErrPermission) {
			t.Fatalf("Create in a read-only folder = %v, want a permission error", err)
		}
	}
}
