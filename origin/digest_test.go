package origin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// parseReprDigest extracts the sha-256 member of a Repr-Digest value
// (RFC 9530 §3): a structured-field dictionary whose values are byte
// sequences, :base64:.
func parseReprDigest(t *testing.T, v string) []byte {
	t.Helper()
	for member := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok || k != "sha-256" {
			continue
		}
		if len(val) < 2 || val[0] != ':' || val[len(val)-1] != ':' {
			t.Fatalf("Repr-Digest %q: sha-256 value is not a byte sequence", v)
		}
		b, err := base64.StdEncoding.DecodeString(val[1 : len(val)-1])
		if err != nil {
			t.Fatalf("Repr-Digest %q: %v", v, err)
		}
		return b
	}
	t.Fatalf("Repr-Digest %q has no sha-256 member", v)
	return nil
}

func TestReprDigestMatchesBody(t *testing.T) {
	_, ts := startServer(t, Config{})
	for _, size := range []int{0, 1, 1024, 1<<20 + 17} {
		for _, ctype := range []string{"", "&ctype=text/html"} {
			u := fmt.Sprintf("%s/gen/d?size=%d%s", ts.URL, size, ctype)
			res, body := get(t, u)
			if len(body) != size {
				t.Fatalf("%s: %d bytes", u, len(body))
			}
			sum := sha256.Sum256(body)
			if got := parseReprDigest(t, res.Header.Get("Repr-Digest")); string(got) != string(sum[:]) {
				t.Errorf("%s: Repr-Digest does not match sha-256 of the body", u)
			}
			// Again, from the cache.
			res2, _ := get(t, u)
			if res2.Header.Get("Repr-Digest") != res.Header.Get("Repr-Digest") {
				t.Errorf("%s: cached Repr-Digest differs", u)
			}
		}
	}
}

// TestReprDigestOfRanges checks that a 206 carries the digest of the whole
// representation, not of the part sent (RFC 9530 §3).
func TestReprDigestOfRanges(t *testing.T) {
	_, ts := startServer(t, Config{})
	const size = 1<<20 + 5
	u := ts.URL + "/gen/rd?size=" + strconv.Itoa(size)
	_, whole := get(t, u)
	sum := sha256.Sum256(whole)
	for _, rng := range []string{"bytes=0-0", "bytes=1000-", "bytes=-10", "bytes=0-1,100-200"} {
		res, _ := get(t, u, "Range", rng)
		if res.StatusCode != 206 {
			t.Fatalf("%s: status %d", rng, res.StatusCode)
		}
		if got := parseReprDigest(t, res.Header.Get("Repr-Digest")); string(got) != string(sum[:]) {
			t.Errorf("%s: Repr-Digest is not that of the whole representation", rng)
		}
	}
}

func TestGenDigestOptOut(t *testing.T) {
	_, ts := startServer(t, Config{})
	res, _ := get(t, ts.URL+"/gen/nd?digest=0")
	if v := res.Header.Get("Repr-Digest"); v != "" {
		t.Errorf("digest=0 still sent Repr-Digest %q", v)
	}
}

func TestDigestCacheBounded(t *testing.T) {
	c := newDigestCache(3)
	var calls atomic.Int32
	compute := func(context.Context) (string, error) { calls.Add(1); return "d", nil }
	for i := range 10 {
		if _, err := c.get(context.Background(), testKey(byte(i)), compute); err != nil {
			t.Fatal(err)
		}
		if n := len(c.m); n > 3 {
			t.Fatalf("cache holds %d entries, bound is 3", n)
		}
	}
	calls.Store(0)
	if _, err := c.get(context.Background(), testKey(9), compute); err != nil || calls.Load() != 0 {
		t.Errorf("most recent entry recomputed (calls %d, err %v)", calls.Load(), err)
	}
}

// TestDigestCacheSharesComputation checks that concurrent first requests for
// one object hash its body once.
func TestDigestCacheSharesComputation(t *testing.T) {
	c := newDigestCache(10)
	var calls atomic.Int32
	release := make(chan struct{})
	compute := func(context.Context) (string, error) {
		calls.Add(1)
		<-release
		return "d", nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v, err := c.get(context.Background(), testKey(1), compute); err != nil || v != "d" {
				t.Errorf("get = %q, %v", v, err)
			}
		})
	}
	// Followers arriving before the release join the leader's
	// computation; those arriving after find its result in the map.
	for i := 0; i < 100 && calls.Load() == 0; i++ {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("computed %d times, want 1", n)
	}
}

// TestDigestCacheLeaderCancelled checks that when the request that started a
// shared computation goes away, another one still gets its digest.
func TestDigestCacheLeaderCancelled(t *testing.T) {
	c := newDigestCache(10)
	leaderCtx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var once sync.Once
	go func() {
		_, _ = c.get(leaderCtx, testKey(2), func(ctx context.Context) (string, error) {
			once.Do(func() { close(started) })
			<-ctx.Done()
			return "", ctx.Err()
		})
	}()
	<-started
	done := make(chan string, 1)
	go func() {
		v, _ := c.get(context.Background(), testKey(2), func(context.Context) (string, error) { return "d", nil })
		done <- v
	}()
	cancel()
	if v := <-done; v != "d" {
		t.Errorf("follower got %q after the leader went away, want d", v)
	}
}
