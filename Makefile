# valise: two commands set everything up on a fresh machine:
#   make demo   a real end-to-end exchange between two offices and an auditor
#   make test   vet, format check and every test
GO      ?= go
BIN     ?= bin/valise
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
export CGO_ENABLED := 0

.PHONY: build test bench demo release clean

WINTESTPKGS ?= ./internal/publish ./volume ./crypto ./bundle ./schema ./formats
# staticcheck, pinned: go run fetches it once into the module cache.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/valise

test:
	@out=$$(gofmt -l . 2>&1); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@# Windows: the packages whose logic is portable (publishing, volumes,
	@# key-file checks, formats) must build their tests for Windows too;
	@# there is no Windows to run them on here.
	@d=$$(mktemp -d) && GOOS=windows $(GO) test -c -o $$d $(WINTESTPKGS) && rm -rf $$d && echo "windows test binaries build: $(WINTESTPKGS)"
	$(GO) test -count=1 -timeout 30m ./...

# The SPEC §8 side-by-side benchmark: N records (default 1000000; e.g.
# N=100000 make bench; BIG=4000000 adds a memory-only run of pack, verify
# and import at that size), results in bench/results.md, work files in
# bench/out. See bench/run/main.go for REPS, SMALL, SEED, SLOW, KEEP.
bench: build
	N="$(N)" SMALL="$(SMALL)" BIG="$(BIG)" REPS="$(REPS)" SEED="$(SEED)" SLOW="$(SLOW)" KEEP="$(KEEP)" BENCH_DIR="$(BENCH_DIR)" \
		$(GO) run ./bench/run -valise $(BIN) -results bench/results.md

demo: build
	./$(BIN) demo

PLATFORMS := linux/amd64 linux/arm64 windows/amd64 windows/arm64 darwin/amd64 darwin/arm64
release:
	@mkdir -p dist
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "dist/valise-$(VERSION)-$$os-$$arch$$ext"; \
		GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/valise-$(VERSION)-$$os-$$arch$$ext ./cmd/valise; \
	done
	@cd dist && sha256sum valise-* > SHA256SUMS

clean:
	rm -rf bin dist

# make fuzz: every fuzz target of the packages below for FUZZTIME each
# (FUZZTIME=10m make fuzz for a longer run); it goes on after a failure and
# lists the failed targets at the end. An input that fails is written
# by go test to the package's testdata/fuzz/FuzzXxx/ and from then on runs
# as a regression seed in make test: commit it with the fix. Inputs that
# find new coverage are minimized for at most FUZZMINIMIZE runs; minimizing
# one for the default 60 seconds would eat a short run whole.
FUZZTIME     ?= 30s
FUZZMINIMIZE ?= 100x
FUZZPKGS     ?= ./bundle ./schema ./formats ./crypto ./volume
.PHONY: fuzz
fuzz:
	@failed=; for pkg in $(FUZZPKGS); do \
		targets=$$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz') || exit 1; \
		for target in $$targets; do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg || failed="$$failed $$pkg.$$target"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failures in$$failed (inputs in testdata/fuzz)"; exit 1; fi
