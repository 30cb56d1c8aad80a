# ecs-keyagent — see README.md. `make demo` and `make test` are the two
# commands every commit keeps working.

GO          ?= go
# One version for the binary and the packages: packaging/version.sh maps
# `git describe` to a version dpkg and rpm both order correctly (v1.2.3 ->
# 1.2.3, 4 commits later -> 1.2.3+git4.gHASH, no tag yet ->
# 0.0.0~gitN.gHASH). `ecs-keyagent version` prints it; the packages add
# the release, PKG_RELEASE: dpkg shows VERSION-1, rpm VERSION and
# release 1. Run once, on first use.
VERSION     ?= $(eval VERSION := $$(shell sh packaging/version.sh))$(VERSION)
PKG_RELEASE := 1
LDFLAGS      = -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 30s
BIN         := bin

.PHONY: all build version test lint demo fuzz reliability soak clean man changelog deb rpm e2e sshd-versions

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ecs-keyagent ./cmd/ecs-keyagent
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ecs-metadata-emulator ./cmd/ecs-metadata-emulator

# The version the binary and the packages are stamped with.
version:
	@echo '$(VERSION)'

# The test command CI runs (.ci/run). Tests that need root or sshd run when
# they can; with CI=true a missing prerequisite fails them instead.
test: lint
	$(GO) test -race -count=1 ./...

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# The agent's main job, against the project's own metadata emulator, on a
# temporary tree: one-shot syncs, then the service for a few seconds (a
# live rotation, a hand edit repaired, SIGTERM). No root needed, nothing
# outside the tree is touched; plain text when piped.
demo: build
	@sh docs/demo.sh $(BIN)

# Each fuzz target for FUZZTIME; `make test` already runs the seed corpora.
# A package that does not build fails the target rather than hiding its fuzzers.
fuzz:
	@pkgs=$$($(GO) list ./...) || exit 1; for pkg in $$pkgs; do \
	  list=$$($(GO) test -list '^Fuzz' $$pkg) || { echo "$$list"; exit 1; }; \
	  for f in $$(echo "$$list" | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Packages (packaging/): ecs-keyagent for each of PKG_ARCHES into
# dist/, with nfpm as a pinned tool (no host packaging tools). Package and
# binary carry the same VERSION (see above).
NFPM              := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
PKG_ARCHES        ?= amd64 arm64
DIST              := dist
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

# ecs-keyagent(8), from packaging/man/ecs-keyagent.8.in, the binary's -h
# output and the README's tables.
man: build
	@mkdir -p $(DIST)/man
	$(GO) run ./packaging/man -bin $(BIN)/ecs-keyagent -readme README.md \
	  -template packaging/man/ecs-keyagent.8.in -version $(VERSION) \
	  -date $$(date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%d) -o $(DIST)/man/ecs-keyagent.8.gz

# /usr/share/doc/ecs-keyagent/changelog.Debian.gz, from packaging/changelog
# with this build's version and SOURCE_DATE_EPOCH's date.
changelog:
	@mkdir -p $(DIST)/doc
	sh packaging/changelog.sh '$(VERSION)-$(PKG_RELEASE)' $(DIST)/doc/changelog.Debian.gz

deb rpm: man changelog
	@rm -f $(DIST)/ecs-keyagent*.$@
	@for arch in $(PKG_ARCHES); do \
	  echo "== $@ $$arch $(VERSION)-$(PKG_RELEASE)"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
	    -o $(DIST)/build/$$arch/ecs-keyagent ./cmd/ecs-keyagent || exit 1; \
	  ARCH=$$arch PKG_VERSION='$(VERSION)' PKG_RELEASE='$(PKG_RELEASE)' BUILD_DIR=$(DIST)/build/$$arch \
	    MAN_DIR=$(DIST)/man DOC_DIR=$(DIST)/doc \
	    $(GO) run $(NFPM) package -f packaging/nfpm.yaml -p $@ -t $(DIST)/ || exit 1; \
	done

# The boot test (packaging/e2e): root, Debian 12, debootstrap and
# systemd-nspawn; CI=true turns a missing prerequisite into a failure.
e2e: build deb rpm
	$(GO) vet -tags e2e ./packaging/e2e/
	$(GO) run $(STATICCHECK) -tags e2e ./packaging/e2e/
	E2E_DIST=$(CURDIR)/$(DIST) E2E_BIN=$(CURDIR)/$(BIN) E2E_PKG_VERSION='$(VERSION)' \
	  $(GO) test -tags e2e -count=1 -v -timeout 20m ./packaging/e2e/

# The sshd tests again with the sshd of other Debian releases besides the
# host's: packaging/sshd-versions/prepare unpacks each suite's
# openssh-server under SSHD_VERSIONS_CACHE (default
# /var/cache/ecs-keyagent-sshd, reused once made; about 20 s a suite cold)
# and names a wrapper for each in ECS_KEYAGENT_SSHDS. Debian 11 has OpenSSH
# 8.4, 13 has 10.0; on a host other than Debian 12 add bookworm (9.2).
# A suite that cannot be prepared fails the target.
SSHD_SUITES ?= bullseye trixie
SSHD_TESTS  := ^(TestLogonGates|TestDifferential|TestDifferentialReparse|TestDifferentialAfterApply|TestApplyKbdOffEveryRelease|TestCorpus)$$
sshd-versions:
	@mkdir -p $(BIN)
	@pairs=$$(sh packaging/sshd-versions/prepare $(SSHD_SUITES)) || exit 1; \
	echo "ECS_KEYAGENT_SSHDS=$$pairs"; \
	log=$(BIN)/sshd-versions.log; \
	ECS_KEYAGENT_SSHDS=$$pairs $(GO) test -count=1 -v -run '$(SSHD_TESTS)' ./agent/sshd/ > $$log 2>&1; status=$$?; \
	[ $$status = 0 ] || cat $$log; \
	for label in host $$(echo "$$pairs" | tr ',' ' ' | sed 's/=[^ ]*//g'); do \
	  printf '%-14s subtests: %4s passed, %s failed, %s skipped\n' "$$label" \
	    $$(grep -cE -- "--- PASS: [^/ ]+/$$label[/ ]" $$log) \
	    $$(grep -cE -- "--- FAIL: [^/ ]+/$$label[/ ]" $$log) \
	    $$(grep -cE -- "--- SKIP: [^/ ]+/$$label[/ ]" $$log); \
	done; \
	tail -n 1 $$log; exit $$status

# The adversarial scenarios of agent/reliability at full counts,
# the 10-minute long run included, then docs/reliability.md from their
# figures, written even when a scenario fails. Needs root (mounts, test
# users' files) and sshd; `make test` runs the same tests with small counts.
RELIABILITY_RESULTS := $(CURDIR)/$(BIN)/reliability.jsonl
reliability:
	@mkdir -p $(BIN) && rm -f $(RELIABILITY_RESULTS)
	@status=0; \
	ECS_KEYAGENT_RELIABILITY=full ECS_KEYAGENT_RELIABILITY_RESULTS=$(RELIABILITY_RESULTS) \
	  $(GO) test -count=1 -timeout 60m -v ./agent/reliability/ || status=$$?; \
	ECS_KEYAGENT_RELIABILITY_RESULTS=$(RELIABILITY_RESULTS) ECS_KEYAGENT_RELIABILITY_REPORT=$(CURDIR)/docs/reliability.md \
	  $(GO) test -count=1 -run '^TestRenderReport$$' ./agent/reliability/ || status=$$?; \
	echo "wrote docs/reliability.md"; exit $$status

# The long run alone: the service polling at 100 ms for SOAK (default 10m).
SOAK ?= 10m
soak:
	ECS_KEYAGENT_RELIABILITY=full ECS_KEYAGENT_SOAK=$(SOAK) $(GO) test -count=1 -timeout 0 -v -run '^TestSoak$$' ./agent/reliability/

clean:
	rm -rf $(BIN) dist

# Benchmarks into docs/benchmarks.md: the Go benchmarks of
# package keys through benchstat, then cmd/ecs-keyagent-bench, which runs the
# built binaries against the metadata emulator on scratch trees. About 17
# minutes, 10 of them the idle window at the default poll interval
# (BENCH_IDLE=2m for a quicker look). It measures and asserts nothing, so
# it is not part of `make test`; run it on a quiet machine.
#
# BENCH_BEFORE=REV also builds ecs-keyagent at git revision REV and
# measures it beside this build in the large-file and idle parts, under the
# same load; the summary also shows the figures of the docs/benchmarks.md
# being replaced.
BENCHSTAT    := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
BENCH_IDLE   ?= 10m
BENCH_COUNT  ?= 10
BENCH_BEFORE ?=
BENCH_GO     := $(GO) test -run '^$$' -bench '^Benchmark(FileSync|UsableScan|MergeOnly)$$' -benchmem -count $(BENCH_COUNT) ./keys

.PHONY: bench
bench: build
	@for tool in hyperfine curl; do \
	  command -v $$tool >/dev/null && continue; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "== installing $$tool"; \
	    apt-get install -y $$tool >/dev/null || { apt-get update -qq && apt-get install -y $$tool >/dev/null; } || exit 1; \
	  else \
	    echo "make bench: $$tool is missing; install it first (Debian: apt-get install $$tool)" >&2; exit 1; \
	  fi; \
	done
	@mkdir -p $(BIN)/bench
	@echo '== Go benchmarks of package keys, $(BENCH_COUNT) counts'
	$(BENCH_GO) > $(BIN)/bench/keys.txt || { cat $(BIN)/bench/keys.txt; exit 1; }
	$(GO) run $(BENCHSTAT) $(BIN)/bench/keys.txt > $(BIN)/bench/keys.benchstat
	@if [ -n "$(BENCH_BEFORE)" ]; then \
	  echo '== building ecs-keyagent at $(BENCH_BEFORE)'; \
	  rm -rf $(BIN)/bench/before-src && mkdir -p $(BIN)/bench/before-src $(BIN)/bench/before && \
	  git archive $(BENCH_BEFORE) | tar -x -C $(BIN)/bench/before-src && \
	  (cd $(BIN)/bench/before-src && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' \
	    -o $(CURDIR)/$(BIN)/bench/before/ecs-keyagent ./cmd/ecs-keyagent) || exit 1; \
	fi
	$(GO) run ./cmd/ecs-keyagent-bench -bin $(BIN) -idle $(BENCH_IDLE) -gobench $(BIN)/bench/keys.benchstat \
	  -gobench-cmd "$(BENCH_GO) > keys.txt && go run $(BENCHSTAT) keys.txt" -previous docs/benchmarks.md \
	  $(if $(BENCH_BEFORE),-before-bin $(BIN)/bench/before -before-rev $(BENCH_BEFORE)) -out docs/benchmarks.md
