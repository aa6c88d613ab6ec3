# valise: two commands set everything up on a fresh machine:
#   make demo   a real end-to-end exchange between two offices and an auditor
#   make test   vet, format check and every test
GO      ?= go
BIN     ?= bin/valise
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
export CGO_ENABLED := 0

.PHONY: build test demo release clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/valise

test:
	@out=$$(gofmt -l . 2>&1); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 ./...

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
