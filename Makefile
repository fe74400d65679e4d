# Mountain Highway — every command an engineer needs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
COVERPKG  := ./internal/...,./infra/...
# A count, not a duration: a timed fuzz run can fail with "context deadline
# exceeded" when its time runs out while a worker is minimising an input.
FUZZTIME  ?= 100000x

.PHONY: help dev test lint build package bench infra-test fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

dev: ## run the whole API on http://127.0.0.1:8080 with embedded DynamoDB, S3 and job queue, and demo data
	$(GO) run ./cmd/mh dev

test: ## lint, then every test (unit; DynamoDB Local, local-aws-sqs, MinIO; Lambda emulator; infra mocks) with coverage; fuzz
	$(MAKE) lint
	CI=$${CI:-true} $(GO) run ./cmd/mh stack -- \
	  $(GO) test -race -count=1 -timeout 20m -coverpkg=$(COVERPKG) -coverprofile=coverage.out ./...
	@$(GO) tool cover -func=coverage.out | awk '/^total:/ {print "total coverage of internal/ and infra/: " $$3}'
	$(MAKE) fuzz

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

fuzz: ## run every fuzz target for FUZZTIME (executions) each
	@for pkg in $$($(GO) list ./internal/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

build: ## build every function for linux/arm64 into dist/<name>.zip
	$(GO) run ./cmd/mh build

package: build ## build, then write dist/SHA256SUMS for the release
	cd dist && sha256sum *.zip > SHA256SUMS && cat SHA256SUMS

bench: ## measure sizes, cold starts and listing latency; writes docs/performance.md
	$(GO) run ./cmd/mh stack -- $(GO) run ./cmd/mh bench

infra-test: ## the Pulumi program's unit tests only (mocks, no cloud)
	$(GO) test -count=1 -cover ./infra/...

clean: ## remove build output
	rm -rf dist coverage.out
