# secrets-broker — run `make help` for the targets.
SHELL := /usr/bin/env bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GO ?= go
# Integration tests start Vault, kube-apiserver and etcd; bound the run.
INTEGRATION_TIMEOUT ?= 30m
# make fuzz explores for FUZZTIME per target; make test runs each target
# for FUZZ_SMOKE_TIME so CI keeps the corpora and the fuzzers honest.
FUZZTIME ?= 5m
FUZZ_SMOKE_TIME ?= 30s

.PHONY: help build test unit fuzz-smoke integration servers bench fuzz lint fmt demo image chart-lint manifests clean

help: ## show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/secrets-broker and bin/brokerctl (static, -trimpath)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

servers: ## build real Vault, kube-apiserver and etcd from Go modules (cached outside the repo)
	integration/servers/build.sh all

test: unit fuzz-smoke integration ## unit tests, every fuzz target for 30 s, then integration tests on real Vault + kube-apiserver + etcd

unit: ## unit tests of the product module (with -race)
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

integration: servers ## integration + e2e tests against the real servers (builds them first if missing)
	@# -p 1: each package starts its own servers; running them one at a time keeps
	@# the load and fault tests' figures honest on 2 cores.
	cd integration && $(GO) vet ./... && $(GO) test -p 1 -count=1 -timeout $(INTEGRATION_TIMEOUT) ./...
	cd integration/chart && $(GO) vet ./... && $(GO) test -count=1 -timeout $(INTEGRATION_TIMEOUT) ./...

bench: servers ## micro-benchmarks and the side-by-side bench program (writes BENCHMARKS.md figures)
	$(GO) test -run '^$$' -bench . -benchmem ./agent/... ./node/...
	cd integration && $(GO) run ./cmd/bench -out ../bench-results

# run-fuzz runs every Fuzz* target under agent/ and node/ for $(1) each.
define run-fuzz
	@set -e; for spec in $$(grep -rl --include='*_test.go' '^func Fuzz' agent node | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$spec/*_test.go | sed -E 's/func (Fuzz[A-Za-z0-9_]*).*/\1/'); do \
	    echo "==> $$spec $$f ($(1))"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(1) ./$$spec; done; done
endef

fuzz: ## run every fuzz target for FUZZTIME each (default 5m)
	$(call run-fuzz,$(FUZZTIME))

fuzz-smoke: ## run every fuzz target for FUZZ_SMOKE_TIME each (default 30s; part of make test)
	$(call run-fuzz,$(FUZZ_SMOKE_TIME))

lint: ## go vet and gofmt check on both modules
	$(GO) vet ./...
	cd integration && $(GO) vet ./...
	@out=$$(gofmt -l agent cmd node integration); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }

fmt: ## gofmt everything
	gofmt -w agent cmd node integration

demo: servers ## start real Vault + kube-apiserver, configure the ADR scenario, run the broker on ./run/broker.sock
	cd integration && $(GO) run ./cmd/demo -run-dir ../run

image: ## build the container image (needs a Docker engine)
	docker build --build-arg VERSION=$(VERSION) -t secrets-broker:$(VERSION) .

chart-lint: servers ## lint, render and apply the Helm charts (Helm Go SDK, real kube-apiserver); deploy/ drift check
	cd integration/chart && $(GO) test -count=1 -timeout $(INTEGRATION_TIMEOUT) -run '^TestChart' ./...

manifests: ## re-render deploy/ from the chart with default values
	deploy/render.sh

clean: ## remove build outputs (the server cache in ~/.cache/secrets-broker stays)
	rm -rf bin run bench-results
