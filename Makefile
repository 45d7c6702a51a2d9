# Every Go command runs with the SIMD matmul kernels of GoMLX's Go backend.
export GOEXPERIMENT := simd

GO      ?= go
BIN     := bin/atelier
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests and the demo need (chromium: the browser test of server/).
APT_PKGS := dataset-fashion-mnist chromium

.PHONY: build test run bench deps fuzz weaviate

build:
	$(GO) build -o $(BIN) ./cmd/atelier

# deps installs the Debian packages that are missing (apt-get update only when needed).
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

# The tests run with a throwaway weaviate-server on loopback (scripts/with-weaviate.sh).
test: deps build weaviate
	$(GO) vet ./...
	WEAVIATE_SERVER=$(WEAVIATE_SERVER) scripts/with-weaviate.sh $(GO) test -count=1 -timeout 40m ./...
	$(MAKE) fuzz

run: build
	./$(BIN) serve

bench: build
	./$(BIN) bench all

# fuzz runs every fuzz target of the dataset parsers for FUZZTIME each (go test -fuzz takes one
# target at a time).
FUZZTIME ?= 5s
fuzz:
	@for t in $$($(GO) test -list '^Fuzz' ./dataset/ | grep '^Fuzz'); do \
		echo "fuzz $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./dataset/ || exit 1; \
	done

# weaviate builds weaviate-server (the index tests' vector database) from source when missing:
# about 3 minutes. It builds without the simd experiment, which it does not need.
WEAVIATE_VERSION := v1.35.2
WEAVIATE_SERVER  ?= $(or $(shell command -v weaviate-server),$(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)/weaviate-server)
weaviate:
	@[ -x "$(WEAVIATE_SERVER)" ] || { echo "building weaviate-server $(WEAVIATE_VERSION) (a few minutes)"; \
		GOEXPERIMENT= $(GO) install github.com/weaviate/weaviate/cmd/weaviate-server@$(WEAVIATE_VERSION); }

# models trains, with fixed seeds, the networks of the bundles under models/. The Fashion-MNIST
# classifier takes FMNIST_EPOCHS passes on the CPU; its checkpoints and curves stay in
# models/fashion-mnist/training (rerun with RESUME=--resume after an interruption).
FMNIST_DIR    ?= /usr/share/datasets/fashion-mnist
FMNIST_EPOCHS ?= 15
RESUME        ?=
.PHONY: models models-fashion-mnist
models: models-fashion-mnist

models-fashion-mnist: deps build
	./$(BIN) train classifier --data $(FMNIST_DIR) --format fashion-mnist --out models/fashion-mnist \
		--epochs $(FMNIST_EPOCHS) --seed 1 $(RESUME)
	./$(BIN) eval classifier --model models/fashion-mnist --data $(FMNIST_DIR) --format fashion-mnist --json
