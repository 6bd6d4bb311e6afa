# Everything a person does with the project is a target here.
GO        ?= go
BIN       := bin/cdn
PKGS      := ./...
# go test flags; CI uses the defaults. TESTFLAGS=-short skips slow end-to-end tests.
TESTFLAGS ?=
STATICCHECK_VERSION := v0.8.2
# Recipes run in bash with pipefail, so `go test -json | testsummary`
# fails when either side does.
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: all build run test test-stress test-short bench bench-peers fuzz lint deps-test clean

all: build

build:
	@mkdir -p bin
	$(GO) build -o $(BIN) ./cmd/cdn

## run: the whole CDN on loopback (three PoPs, shields, origin, GeoDNS, NATS).
run: build
	./$(BIN) sim

## test: every test, with the race detector, after installing what tests use;
## the edge package a second time on the net/http-only HTTP/1.1 engine.
## Failed tests and build errors are printed; the last lines list each skipped
## test with its reason and then "tests: N passed, N failed, N skipped".
test: deps-test
	$(GO) vet $(PKGS)
	$(GO) build -o bin/testsummary ./scripts/testsummary
	{ $(GO) test -json -race -count=1 -timeout 20m $(TESTFLAGS) $(PKGS); \
	  CDN_TEST_HTTP1_ENGINE=stdlib $(GO) test -json -race -count=1 -timeout 20m $(TESTFLAGS) ./edge/; } 2>&1 | bin/testsummary

test-short:
	$(GO) test -short -count=1 $(PKGS)

## test-stress: the end-to-end packages STRESS_N times (default 5) under -race
## while a CPU hog keeps every core busy (stress-ng, or scripts/cpuhog).
## Every failed run is reported; the last line counts the runs that passed.
STRESS_N    ?= 5
STRESS_PKGS ?= ./edge/ ./sim/ ./purge/ ./cache/disk/ ./geodns/
test-stress: deps-test
	@mkdir -p bin
	$(GO) build -o bin/testsummary ./scripts/testsummary
	$(GO) build -o bin/cpuhog ./scripts/cpuhog
	@if command -v stress-ng >/dev/null; then \
		stress-ng --cpu 0 --timeout 3h --quiet & hog=$$!; echo "load: stress-ng --cpu 0 (pid $$hog)"; \
	else \
		bin/cpuhog -for 3h & hog=$$!; echo "load: bin/cpuhog (pid $$hog)"; \
	fi; \
	trap 'kill $$hog 2>/dev/null; wait $$hog 2>/dev/null' EXIT; \
	start=$$(date +%s); ok=0; failed=""; \
	for i in $$(seq 1 $(STRESS_N)); do \
		echo "== stress run $$i of $(STRESS_N)"; \
		if $(GO) test -json -race -count=1 -timeout 30m $(STRESS_PKGS) 2>&1 | bin/testsummary; then \
			ok=$$((ok+1)); \
		else \
			failed="$$failed $$i"; \
		fi; \
	done; \
	echo "stress: $$ok of $(STRESS_N) runs passed$${failed:+ (failed:$$failed)} in $$(( $$(date +%s) - start ))s"; \
	[ $$ok = $(STRESS_N) ]

## deps-test: Debian packages that tests drive (fault injection with
## nftables, curl, dig and delv as clients, strace to check the splice path,
## chromium for the status page, stress-ng for the load of test-stress).
## Installed quietly when root with apt-get, skipped otherwise; the tests
## that need a package skip with a message naming it.
deps-test:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=""; \
		for p in nftables:nft curl:curl dnsutils:dig bind9-dnsutils:delv stress-ng:stress-ng strace:strace chromium:chromium; do \
			command -v $${p#*:} >/dev/null || missing="$$missing $${p%%:*}"; \
		done; \
		if [ -n "$$missing" ]; then \
			echo "installing:$$missing"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null 2>&1) \
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
	@$(GO) mod tidy -diff || (echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1)
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

clean:
	rm -rf bin
