# ecs-keyagent — see README.md. `make demo` and `make test` are the two
# commands every commit keeps working.

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS     := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 30s
BIN         := bin

.PHONY: all build test lint demo fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ecs-keyagent ./cmd/ecs-keyagent
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ecs-metadata-emulator ./cmd/ecs-metadata-emulator

# The test command CI runs (.ci/run). Tests that need root or sshd run when
# they can; with CI=true a missing prerequisite fails them instead.
test: lint
	$(GO) test -race -count=1 ./...

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# The agent's main job, against the project's own metadata emulator, on a
# temporary tree: no root needed, nothing outside the tree is touched.
demo: build
	@sh docs/demo.sh $(BIN)

# Each fuzz target for FUZZTIME; `make test` already runs the seed corpora.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN) dist
