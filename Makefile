# Everything a person does with the project is a target here.
GO        ?= go
BIN       := bin/cdn
PKGS      := ./...
# go test flags; CI uses the defaults. TESTFLAGS=-short skips slow end-to-end tests.
TESTFLAGS ?=
STATICCHECK_VERSION := v0.8.2

.PHONY: all build run test test-short bench bench-peers fuzz lint deps-test clean

all: build

build:
	@mkdir -p bin
	$(GO) build -o $(BIN) ./cmd/cdn

## run: the whole CDN on loopback (three PoPs, shields, origin, GeoDNS, NATS).
run: build
	./$(BIN) sim

## test: every test, with the race detector, after installing what tests use.
test: deps-test
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(TESTFLAGS) $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

## deps-test: Debian packages that tests drive (fault injection, DNS client).
## Skipped quietly when not root or without apt-get; the tests that need a
## package skip with a message naming it.
deps-test:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=""; \
		for p in nftables:nft curl:curl dnsutils:dig; do \
			command -v $${p#*:} >/dev/null || missing="$$missing $${p%%:*}"; \
		done; \
		if [ -n "$$missing" ]; then \
			echo "installing:$$missing"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
				|| echo "warning: could not install$$missing; tests that need them will skip"; \
		fi; \
	fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## bench-peers: our edge and GeoDNS against nginx, Varnish and gdnsd, same
## machine, same run (installs the peers with apt); updates docs/BENCHMARKS.md.
bench-peers:
	scripts/bench-peers.sh

## fuzz: each fuzz target for FUZZTIME (default 20s).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

clean:
	rm -rf bin
