package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/purge"
)

// repeated is a flag that may be given many times.
type repeated []string

func (r *repeated) String() string { return strings.Join(*r, ",") }

// Set adds one value.
func (r *repeated) Set(v string) error {
	*r = append(*r, v)
	return nil
}

func cmdPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("purge", "--admin URL [--token T] (--url U | --prefix P | --tag T | --all SITE)... [--soft] | --status ID", stderr)
	admin := fs.String("admin", "", "admin API `URL` of any node, such as http://127.0.0.1:9090")
	token := fs.String("token", "", "admin bearer `token` (default: the "+config.DefaultTokenEnv+" environment variable)")
	var urls, prefixes, tags, sites repeated
	fs.Var(&urls, "url", "purge this object `URL`, repeatable")
	fs.Var(&prefixes, "prefix", "purge every object whose URL starts with `PREFIX`, repeatable")
	fs.Var(&tags, "tag", "purge every object carrying surrogate key `TAG`, repeatable")
	fs.Var(&sites, "all", "purge everything of site `HOST`, repeatable")
	soft := fs.Bool("soft", false, "mark content stale (revalidate before use) instead of removing it")
	status := fs.String("status", "", "show the result of the earlier purge `ID` instead of purging")
	timeout := fs.Duration("timeout", 30*time.Second, "give up on the admin API after this long")
	jsonOut := fs.Bool("json", false, "print the API's JSON answer instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *admin == "" {
		return usageError{"--admin is required"}
	}
	base, err := adminURL(*admin)
	if err != nil {
		return usageError{err.Error()}
	}
	if *token == "" {
		*token = os.Getenv(config.DefaultTokenEnv)
	}
	if *token == "" {
		return usageError{"no token: give --token or set " + config.DefaultTokenEnv}
	}
	if *timeout <= 0 {
		return usageError{fmt.Sprintf("--timeout %s: must be positive", *timeout)}
	}
	n := len(urls) + len(prefixes) + len(tags) + len(sites)
	var req *http.Request
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	switch {
	case *status != "" && (n > 0 || *soft):
		return usageError{"--status cannot be combined with a purge"}
	case *status != "":
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/purge/"+url.PathEscape(*status), nil)
	case n == 0:
		return usageError{"nothing to purge: give --url, --prefix, --tag or --all"}
	default:
		body, _ := json.Marshal(purge.Request{URLs: urls, Prefixes: prefixes, Tags: tags, All: purge.StringList(sites), Soft: *soft})
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/purge", bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return fmt.Errorf("build request to %s: %w", base, err)
	}
	req.Header.Set("Authorization", "Bearer "+*token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("admin API %s: %w", base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read answer of admin API %s: %w", base, err)
	}
	var res purge.Result
	// 502 carries a result: a node failed to apply the purge.
	refused := resp.StatusCode >= 300 && resp.StatusCode != http.StatusBadGateway
	if refused || json.Unmarshal(data, &res) != nil || res.ID == "" {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("admin API %s refused: %s: %s", base, resp.Status, e.Error)
		}
		return fmt.Errorf("admin API %s refused: %s: %s", base, resp.Status, strings.TrimSpace(string(data)))
	}
	if *jsonOut {
		_, _ = stdout.Write(data)
	} else {
		printResult(stdout, res, *soft)
	}
	switch {
	case len(res.Failed) > 0 || len(res.Missing) > 0:
		return fmt.Errorf("purge %s not confirmed everywhere: %d node(s) failed, %d missing", res.ID, len(res.Failed), len(res.Missing))
	case res.Status != purge.StatusConfirmed:
		return fmt.Errorf("purge %s: status %s", res.ID, res.Status)
	}
	return nil
}

// adminURL accepts host:port or a URL and returns it without a final slash.
func adminURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("--admin %q: want an http(s) URL such as http://127.0.0.1:9090", s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// printResult writes a purge result as a summary line and a node table.
func printResult(w io.Writer, r purge.Result, soft bool) {
	kind := "hard"
	if soft {
		kind = "soft"
	}
	total := len(r.Confirmed) + len(r.Failed) + len(r.Missing)
	fmt.Fprintf(w, "purge %s (%s) at %s: %s, %d of %d node(s) confirmed in %.1f ms\n",
		r.ID, kind, r.Time.UTC().Format(time.RFC3339Nano), r.Status, len(r.Confirmed), total, r.DurationMS)
	if r.Message != "" {
		fmt.Fprintln(w, r.Message)
	}
	if total == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tRESULT\tDETAIL")
	for _, n := range r.Confirmed {
		fmt.Fprintf(tw, "%s\tconfirmed\t%.1f ms\n", n, r.LatencyMS[n])
	}
	for _, f := range r.Failed {
		fmt.Fprintf(tw, "%s\tfailed\t%s\n", f.Node, oneLine(f.Error))
	}
	for _, n := range r.Missing {
		fmt.Fprintf(tw, "%s\tmissing\tno confirmation yet\n", n)
	}
	_ = tw.Flush()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
