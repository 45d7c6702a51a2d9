# Every Go command runs with the SIMD matmul kernels of GoMLX's Go backend.
export GOEXPERIMENT := simd

GO      ?= go
BIN     := bin/atelier
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests and the demo need.
APT_PKGS := dataset-fashion-mnist

.PHONY: build test run bench deps fuzz

build:
	$(GO) build -o $(BIN) ./cmd/atelier

# deps installs the Debian packages that are missing (apt-get update only when needed).
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

test: deps build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...

run: build
	./$(BIN) serve

bench: build
	./$(BIN) bench all
