# Every Go command runs with the SIMD matmul kernels of GoMLX's Go backend.
export GOEXPERIMENT := simd

GO      ?= go
BIN     := bin/atelier
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests and the demo need (chromium: the browser test of server/).
APT_PKGS := dataset-fashion-mnist chromium

.PHONY: build test run bench bench-nn deps fuzz weaviate

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

bench: build bench-nn
	./$(BIN) bench all

# bench-nn runs the backbone benchmarks side by side with their PyTorch twin (Debian's
# python3-torch, installed here rather than for the tests) and prints the Go/PyTorch ratios:
# train step at 128 px, inference at 128 and 224 px. Other load on the machine skews both sides,
# so the load average is printed first.
BENCH_APT_PKGS := python3-torch
BENCH_NN_RUNS  := "train-step --input 128|--input 128" "infer --input 128|--infer --input 128" "infer --input 224|--infer --input 224"
bench-nn: build
	@$(MAKE) --no-print-directory deps APT_PKGS="$(BENCH_APT_PKGS)"
	@uptime
	@for run in $(BENCH_NN_RUNS); do \
		go_args=$${run%%|*}; py_args=$${run#*|}; \
		go_json=$$(./$(BIN) bench $$go_args --json) || exit 1; \
		py_json=$$(/usr/bin/python3 bench/pytorch_twin.py $$py_args) || exit 1; \
		echo "go      $$go_json"; echo "pytorch $$py_json"; \
		/usr/bin/python3 -c 'import json, sys; g, p = json.loads(sys.argv[1]), json.loads(sys.argv[2]); \
			print("ratio go/pytorch, %s: %.2f" % (sys.argv[3], g["seconds_per_step"] / p["seconds_per_step"]))' \
			"$$go_json" "$$py_json" "$$go_args"; \
	done

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
FMNIST_EPOCHS ?= 20
RESUME        ?=
.PHONY: models models-fashion-mnist
models: models-fashion-mnist

models-fashion-mnist: deps build
	./$(BIN) train classifier --data $(FMNIST_DIR) --format fashion-mnist --out models/fashion-mnist \
		--epochs $(FMNIST_EPOCHS) --seed 1 $(RESUME)
	./$(BIN) eval classifier --model models/fashion-mnist --data $(FMNIST_DIR) --format fashion-mnist --json
