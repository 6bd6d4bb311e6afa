// Package statuspage renders a node's human-readable status page: a
// self-contained HTML document (inline CSS, no scripts, no external assets)
// built from a plain Page value. Edges, shields, GeoDNS nodes, layer-4
// balancers and forward proxies serve it at their admin "/".
package statuspage

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"runtime/debug"
	"time"
)

// Page is everything the status page shows.
type Page struct {
	Role    string // "edge", "shield", "geodns", "l4", "proxy"
	Node    string // node name
	Version string // build version; see Version
	Uptime  time.Duration
	// Sections are shown in order, each as a table.
	Sections []Section
}

// Section is one titled table. Rows hold one cell per column.
type Section struct {
	Title   string
	Columns []string
	Rows    []Row
	// Empty is shown instead of the table when there are no rows.
	Empty string
}

// Row is one table row. Bad marks it (and its state cell) as unhealthy.
type Row struct {
	Cells []string
	Bad   bool
}

// processStart is when this process loaded the package.
var processStart = time.Now()

// ProcessUptime is how long this process has been running.
func ProcessUptime() time.Duration { return time.Since(processStart) }

// Version is the main module's version from the build information, or
// "devel" when there is none.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		v := "devel"
		if ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v += " " + s.Value[:12]
				}
			}
		}
		return v
	}
	return bi.Main.Version
}

// Bytes formats n bytes with a binary unit.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Ratio formats a hit ratio as a percentage; "-" without lookups.
func Ratio(hits, lookups int64) string {
	if lookups <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(hits)/float64(lookups))
}

// YesNo renders a boolean cell.
func YesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Render writes p as an HTML document.
func Render(w io.Writer, p Page) error {
	return tmpl.Execute(w, view{Page: p, UptimeText: p.Uptime.Truncate(time.Second).String()})
}

// Serve renders p into a buffer and writes it as a text/html response, so a
// template error becomes a 500 rather than a half-written page.
func Serve(w http.ResponseWriter, p Page) {
	var buf bytes.Buffer
	if err := Render(&buf, p); err != nil {
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Write(buf.Bytes())
}

type view struct {
	Page
	UptimeText string
}

var tmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Role}} {{.Node}} status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .3em}
h2{font-size:1.1em;margin:1.4em 0 .4em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em;margin:0}
dt{color:#666}dd{margin:0}
table{border-collapse:collapse;background:#fff}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#eee}
tr.bad td{background:#fde8e8;color:#900}
p.empty{color:#666;font-style:italic}
</style>
</head>
<body>
<h1 id="node">{{.Node}}</h1>
<dl>
<dt>Role</dt><dd id="role">{{.Role}}</dd>
<dt>Version</dt><dd id="version">{{.Version}}</dd>
<dt>Uptime</dt><dd id="uptime">{{.UptimeText}}</dd>
</dl>
{{range .Sections}}<section>
<h2>{{.Title}}</h2>
{{if .Rows}}<table>
<thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr{{if .Bad}} class="bad"{{end}}>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody>
</table>{{else}}<p class="empty">{{if .Empty}}{{.Empty}}{{else}}none{{end}}</p>{{end}}
</section>
{{end}}</body>
</html>
`))
