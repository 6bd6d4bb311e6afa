package origin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sync/singleflight"
)

// DefaultDigestCacheSize is the number of Repr-Digest values kept when
// Config.DigestCacheSize is 0.
const DefaultDigestCacheSize = 10000

// digestCache remembers the Repr-Digest field value of representations by
// their key, so only the first request for an object hashes its body. It is
// bounded: when full, an arbitrary entry makes room. Concurrent first
// requests for one key share a single hashing pass.
type digestCache struct {
	max   int
	group singleflight.Group

	mu sync.RWMutex
	m  map[[32]byte]string // guarded by mu
}

func newDigestCache(max int) *digestCache {
	return &digestCache{max: max, m: make(map[[32]byte]string)}
}

// lookup returns the cached Repr-Digest value for key.
func (c *digestCache) lookup(key [32]byte) (string, bool) {
	c.mu.RLock()
	v, ok := c.m[key]
	c.mu.RUnlock()
	return v, ok
}

// get returns the Repr-Digest value for key, calling compute to hash the
// body when it is not cached. compute must honour its context. If the
// request that started a shared computation goes away, the others retry
// with their own context.
func (c *digestCache) get(ctx context.Context, key [32]byte, compute func(context.Context) (string, error)) (string, error) {
	if v, ok := c.lookup(key); ok {
		return v, nil
	}
	var err error
	for range 3 {
		ch := c.group.DoChan(string(key[:]), func() (any, error) {
			// A computation that ended between our lookup and this call
			// has left its result in the map.
			if v, ok := c.lookup(key); ok {
				return v, nil
			}
			v, err := compute(ctx)
			if err == nil {
				c.put(key, v)
			}
			return v, err
		})
		select {
		case res := <-ch:
			if res.Err == nil {
				return res.Val.(string), nil
			}
			err = res.Err
		case <-ctx.Done():
			return "", ctx.Err()
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
	}
	return "", err
}

func (c *digestCache) put(key [32]byte, v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = v
}

// formatDigest renders a SHA-256 sum as a Repr-Digest field value: a
// dictionary member whose value is a structured-field byte sequence
// (RFC 9530 §3, RFC 8941 §3.3.5).
func formatDigest(sum []byte) string {
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":"
}

// hashBody hashes size bytes produced by writeRange in one streaming pass,
// checking ctx between buffers.
func hashBody(ctx context.Context, size int64, buf []byte, writeRange func(w io.Writer, off, n int64, buf []byte) (int64, error)) (string, error) {
	h := sha256.New()
	n, err := writeRange(ctxWriter{ctx, h}, 0, size, buf)
	if err != nil {
		return "", fmt.Errorf("hash body at offset %d: %w", n, err)
	}
	return formatDigest(h.Sum(nil)), nil
}

// ctxWriter fails writes once its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
