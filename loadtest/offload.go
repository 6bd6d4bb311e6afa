package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// originStats is the part of the origin's GET /_origin/stats document the
// load generator reads.
type originStats struct {
	Total *int64 `json:"total"`
}

// readOriginTotal reads the origin's request counter from statsURL.
func readOriginTotal(ctx context.Context, statsURL string, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, statsURL, nil)
	if err != nil {
		return 0, fmt.Errorf("origin stats %s: %w", statsURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("origin stats: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, fmt.Errorf("origin stats %s: read body: %w", statsURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("origin stats %s: status %s", statsURL, resp.Status)
	}
	var s originStats
	if err := json.Unmarshal(body, &s); err != nil {
		return 0, fmt.Errorf("origin stats %s: parse JSON: %w", statsURL, err)
	}
	if s.Total == nil {
		return 0, fmt.Errorf("origin stats %s: no \"total\" in the document", statsURL)
	}
	return *s.Total, nil
}
