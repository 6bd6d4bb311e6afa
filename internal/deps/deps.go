//go:build tools

// Package deps pins the modules that parts of the CDN build on, so that
// `go mod tidy` keeps them while those parts are written.
package deps

import (
	_ "github.com/HdrHistogram/hdrhistogram-go"
	_ "github.com/andybalholm/brotli"
	_ "github.com/caddyserver/certmagic"
	_ "github.com/compose-spec/compose-go/v2/loader"
	_ "github.com/dgraph-io/ristretto/v2"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/letsencrypt/pebble/v2/wfe"
	_ "github.com/maxmind/mmdbwriter"
	_ "github.com/miekg/dns"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/oschwald/geoip2-golang"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/quic-go/quic-go/http3"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/net/http2"
	_ "golang.org/x/sync/singleflight"
)
