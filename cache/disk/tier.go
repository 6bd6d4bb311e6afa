package disk

import "github.com/selfcdn/cdn/cache"

// Tier returns the store as the cache core's disk tier (cache.DiskTier),
// for cache.Tiered.
func (s *Store) Tier() cache.DiskTier { return tier{s} }

type tier struct{ *Store }

// Create starts an entry of size bytes (-1 if unknown); see CreateSized.
func (t tier) Create(key string, size int64) (cache.DiskWriter, error) {
	w, err := t.CreateSized(key, size)
	if err != nil {
		return nil, err
	}
	return w, nil
}

var _ cache.DiskWriter = (*Writer)(nil)
