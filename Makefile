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
# target at a time). FUZZTIME is a count of inputs, not a duration: Go 1.26's fuzzing
# coordinator can report "context deadline exceeded" when a duration ends while a worker is busy
# (golang/go#75804, fixed in Go 1.27), which failed a CI run on a loaded machine. 150000 inputs
# take 3-4 s per target on two cores, 10 s for the DeepFashion2 parser.
FUZZTIME ?= 150000x
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

# models trains, with fixed seeds, the networks of the bundles under models/ and measures them
# on held-out data: models/default (FashionNet, detector, aligner; compiled into the binary) on
# synthetic data of seed SYNTH_SEED, evaluated on a fresh synthetic set of seed SYNTH_TEST_SEED,
# and the Fashion-MNIST classifier. The pipeline bundle is trained in out/default and replaces
# models/default (with its training curves) only once all three networks are trained; after an
# interruption, rerun with RESUME=--resume. The model card is written from the bundles and the
# evaluations (out/eval/*.json).
FMNIST_DIR      ?= /usr/share/datasets/fashion-mnist
FMNIST_EPOCHS   ?= 20
RESUME          ?=
SYNTH_SEED      ?= 1
SYNTH_TEST_SEED ?= 2
SYNTH_TRAIN     := out/synth-$(SYNTH_SEED)
SYNTH_TEST      := out/synth-$(SYNTH_TEST_SEED)
DEFAULT_MODEL   := models/default
DEFAULT_TRAIN   := out/default
EVAL_DIR        := out/eval
FN_FORMATS      := deepfashion-attr,deepfashion-inshop,deepfashion-c2s
FN_DATA          = $(1)/attr,$(1)/inshop,$(1)/c2s
# The shipped networks are sized for training on two CPU cores; on DeepFashion with a GPU, see
# the README (larger inputs and backbones). Two networks are trained in stages, each a
# fine-tuning run (--init) of the last with a new cosine schedule and its own seed: FashionNet,
# on the ResNet-style backbone at 128 px, 800 and then 600 steps on the attribute photos of the
# three training sets (they carry no item ids), then 2600 steps on all of its photos with the
# identity losses (the item classification next to the triplet loss: the embedding collapses
# without it), then 2200 steps with fresh attribute photos of seeds SYNTH_FRESH_SEEDS added,
# 1800 more with those of SYNTH_FRESH2_SEEDS, 1800 more with those of SYNTH_FRESH3_SEEDS, 2000
# more with those of SYNTH_FRESH4_SEEDS and 2000 more with those of SYNTH_FRESH5_SEEDS, after
# which its attribute head is replaced by one with a hidden layer on the backbone's texture
# statistics too, fitted to the frozen network's features of the train photos of every attribute
# set (FN_HEAD); the detector first at 192 px, then twice at 256 px. On two CPU cores
# FashionNet's stages take about 2.3 s a step (8 h 47 min in all), its attribute head 1 h 7 min (59 of them computing the features).
DEFAULT_BASE  := out/default-base
DEFAULT_TUNE  := out/default-tune
DEFAULT_TUNE2 := out/default-tune2
DEFAULT_TUNE3 := out/default-tune3
DEFAULT_TUNE4 := out/default-tune4
DEFAULT_TUNE5 := out/default-tune5
DEFAULT_TUNE6 := out/default-tune6
DEFAULT_TUNE7 := out/default-tune7
FN_ATTR_DATA   = $(SYNTH_TRAIN)/attr,$(SYNTH_EXTRA)/attr,$(SYNTH_MORE)/attr
FN_FLAGS     := --backbone resnet --backbone-widths 32,64,128,256 --batch 64 --input-size 128 \
	--attr-loss weighted-bce --attr-weight 2 --attr-adjust 0.5
FN_BASE      := --identity-weight 0 --steps 800 --lr 2e-3 --warmup 100 --seed 1
FN_TUNE      := --identity-weight 0 --steps 600 --lr 1e-3 --warmup 50 --seed 2
FN_TUNE2     := --identity-weight 1 --steps 2600 --lr 1e-3 --warmup 100 --seed 3
FN_TUNE3     := --identity-weight 1 --steps 2200 --lr 7e-4 --warmup 100 --seed 4
FN_TUNE4     := --identity-weight 1 --steps 1800 --lr 5e-4 --warmup 100 --seed 5
FN_TUNE5     := --identity-weight 1 --steps 1800 --lr 5e-4 --warmup 100 --seed 6
FN_TUNE6     := --identity-weight 1 --steps 2000 --lr 5e-4 --warmup 100 --seed 7
FN_TUNE7     := --identity-weight 1 --steps 2000 --lr 5e-4 --warmup 100 --seed 8
FN_HEAD      := --attr-head-only --attr-hidden 512 --batch 512 --epochs 20 --lr 2e-3 --warmup 100 \
	--weight-decay 1 --seed 9
DET_FLAGS    := --batch 16 --det-classes types
DET_BASE     := --epochs 16 --det-input-size 192
DET_TUNE     := --epochs 15 --det-input-size 256 --lr 1e-3 --warmup 300
DET_TUNE2    := --epochs 8 --det-input-size 256 --lr 5e-4 --warmup 200
AL_FLAGS     := --epochs 25 --batch 32 --align-input-size 96
# The networks learn from more photos than a 20000-image set holds for them: a set of seed
# SYNTH_EXTRA_SEED with 6000 scenes (detector), 10000 FLD photos (aligner; it is measured on FLD,
# whose zoom-ins and poses the other folders lack) and 24000 attribute photos (FashionNet),
# and 24000 attribute photos of seed SYNTH_MORE_SEED (FashionNet).
SYNTH_EXTRA_SEED ?= 3
SYNTH_EXTRA      := out/synth-$(SYNTH_EXTRA_SEED)
SYNTH_MORE_SEED  ?= 4
SYNTH_MORE       := out/synth-$(SYNTH_MORE_SEED)
# FashionNet's third stage learns from all of seed SYNTH_SEED's photos and the two attribute
# sets, its fourth from those and 24000 attribute photos of each of SYNTH_FRESH_SEEDS, which it
# has not seen (the third stage's loss fell at each new pass over its photos), its fifth from
# all of those and the attribute photos of SYNTH_FRESH2_SEEDS, its sixth from all of those and
# the attribute photos of SYNTH_FRESH3_SEEDS, and so on to its eighth, which adds those of
# SYNTH_FRESH5_SEEDS.
FN_ALL_DATA    = $(call FN_DATA,$(SYNTH_TRAIN)),$(SYNTH_EXTRA)/attr,$(SYNTH_MORE)/attr
FN_ALL_FORMATS = $(FN_FORMATS),deepfashion-attr,deepfashion-attr
# attr_sets is the attribute folders of the seeds $(1).
attr_sets         = $(foreach s,$(1),out/synth-$(s)/attr)
SYNTH_FRESH_SEEDS ?= 5 6
SYNTH_FRESH2_SEEDS ?= 7 8
SYNTH_FRESH3_SEEDS ?= 9 10
SYNTH_FRESH4_SEEDS ?= 11 12
SYNTH_FRESH5_SEEDS ?= 13 14
# fresh_upto is the attribute folders of the seeds SYNTH_FRESH_SEEDS to SYNTH_FRESH$(1)_SEEDS.
fresh_upto        = $(call attr_sets,$(SYNTH_FRESH_SEEDS) $(foreach i,$(wordlist 2,$(1),1 2 3 4 5 6 7 8 9),$(SYNTH_FRESH$(i)_SEEDS)))
SYNTH_FRESH_ALL  := $(call fresh_upto,5)
comma            := ,
space            := $() $()
attr_list         = $(subst $(space),$(comma),$(1))
attr_formats      = $(subst $(space),$(comma),$(1:%=deepfashion-attr))
# fn_fresh is the --data and --format flags of FN_ALL_DATA with the attribute sets $(1) added.
fn_fresh          = --data $(FN_ALL_DATA),$(call attr_list,$(1)) --format $(FN_ALL_FORMATS),$(call attr_formats,$(1))
# fn_stage trains a FashionNet stage on the fresh attribute sets $(1) from the run $(2) into $(3),
# with the stage's flags $(4).
fn_stage          = ./$(BIN) train fashionnet $(call fn_fresh,$(1)) --init $(2) --out $(3) $(FN_FLAGS) $(4) $(RESUME)
# The attribute head learns from the train photos of all of those sets and of the attribute sets
# of SYNTH_HEAD_SEEDS, which only the head sees; its scores are then calibrated on the
# validation photos of all of them, which nothing trains on.
SYNTH_HEAD_SEEDS ?= 15 16 17 18
SYNTH_HEAD_ALL   := $(call attr_sets,$(SYNTH_HEAD_SEEDS))
FN_CAL_DATA       = $(FN_ATTR_DATA),$(call attr_list,$(SYNTH_FRESH_ALL) $(SYNTH_HEAD_ALL))
FN_CAL_FORMATS    = deepfashion-attr,deepfashion-attr,deepfashion-attr,$(call attr_formats,$(SYNTH_FRESH_ALL) $(SYNTH_HEAD_ALL))
EXTRA_IMAGES_scenes := 6000
EXTRA_IMAGES_fld    := 10000
EXTRA_IMAGES_attr   := 24000
.PHONY: models models-default models-fashion-mnist model-card
models: models-default models-fashion-mnist model-card

$(SYNTH_TRAIN) $(SYNTH_TEST): build
	@[ -d $@/scenes ] || ./$(BIN) synth --out $@ --seed $(lastword $(subst -, ,$@)) --images 20000

$(SYNTH_EXTRA)/scenes $(SYNTH_EXTRA)/fld $(SYNTH_EXTRA)/attr $(SYNTH_MORE)/attr $(SYNTH_FRESH_ALL) \
		$(SYNTH_HEAD_ALL): build
	@[ -d $@ ] || ./$(BIN) synth --out $(@D) --seed $(lastword $(subst -, ,$(@D))) --only $(@F) \
		--images $(EXTRA_IMAGES_$(@F))

models-default: build $(SYNTH_TRAIN) $(SYNTH_TEST) $(SYNTH_EXTRA)/scenes $(SYNTH_EXTRA)/fld $(SYNTH_EXTRA)/attr \
		$(SYNTH_MORE)/attr $(SYNTH_FRESH_ALL) $(SYNTH_HEAD_ALL)
	./$(BIN) train fashionnet --data $(FN_ATTR_DATA) --format deepfashion-attr,deepfashion-attr,deepfashion-attr \
		--out $(DEFAULT_BASE) $(FN_FLAGS) $(FN_BASE) $(RESUME)
	./$(BIN) train fashionnet --data $(FN_ATTR_DATA) --format deepfashion-attr,deepfashion-attr,deepfashion-attr \
		--init $(DEFAULT_BASE) --out $(DEFAULT_TUNE) $(FN_FLAGS) $(FN_TUNE) $(RESUME)
	./$(BIN) train fashionnet --data $(FN_ALL_DATA) --format $(FN_ALL_FORMATS) --init $(DEFAULT_TUNE) \
		--out $(DEFAULT_TUNE2) $(FN_FLAGS) $(FN_TUNE2) $(RESUME)
	$(call fn_stage,$(call fresh_upto,1),$(DEFAULT_TUNE2),$(DEFAULT_TUNE3),$(FN_TUNE3))
	$(call fn_stage,$(call fresh_upto,2),$(DEFAULT_TUNE3),$(DEFAULT_TUNE4),$(FN_TUNE4))
	$(call fn_stage,$(call fresh_upto,3),$(DEFAULT_TUNE4),$(DEFAULT_TUNE5),$(FN_TUNE5))
	$(call fn_stage,$(call fresh_upto,4),$(DEFAULT_TUNE5),$(DEFAULT_TUNE6),$(FN_TUNE6))
	$(call fn_stage,$(call fresh_upto,5),$(DEFAULT_TUNE6),$(DEFAULT_TUNE7),$(FN_TUNE7))
	./$(BIN) train fashionnet --data $(FN_CAL_DATA) --format $(FN_CAL_FORMATS) --init $(DEFAULT_TUNE7) \
		--out $(DEFAULT_TRAIN) $(FN_HEAD) $(RESUME)
	./$(BIN) calibrate --model $(DEFAULT_TRAIN) --data $(FN_CAL_DATA) --format $(FN_CAL_FORMATS)
	./$(BIN) train detector --data $(SYNTH_EXTRA)/scenes --format deepfashion2 \
		--out $(DEFAULT_BASE) --seed $(SYNTH_SEED) $(DET_FLAGS) $(DET_BASE) $(RESUME)
	./$(BIN) train detector --data $(SYNTH_EXTRA)/scenes --format deepfashion2 --init $(DEFAULT_BASE) \
		--out $(DEFAULT_TUNE) --seed $(SYNTH_SEED) $(DET_FLAGS) $(DET_TUNE) $(RESUME)
	./$(BIN) train detector --data $(SYNTH_EXTRA)/scenes --format deepfashion2 --init $(DEFAULT_TUNE) \
		--out $(DEFAULT_TRAIN) --seed $(SYNTH_SEED) $(DET_FLAGS) $(DET_TUNE2) $(RESUME)
	./$(BIN) train aligner --data $(SYNTH_EXTRA)/fld --format deepfashion-fld \
		--out $(DEFAULT_TRAIN) --seed $(SYNTH_SEED) $(AL_FLAGS) $(RESUME)
	rm -rf $(DEFAULT_MODEL) && mkdir -p $(DEFAULT_MODEL)
	cp -r $(DEFAULT_TRAIN)/bundle.json $(DEFAULT_TRAIN)/fashionnet $(DEFAULT_TRAIN)/detector $(DEFAULT_TRAIN)/aligner $(DEFAULT_MODEL)/
	for t in attribute-head detector aligner; do mkdir -p $(DEFAULT_MODEL)/training/$$t && \
		cp $(DEFAULT_TRAIN)/training/$$t/curves.* $(DEFAULT_MODEL)/training/$$t/; done
	mkdir -p $(DEFAULT_MODEL)/training/fashionnet && \
		cp $(DEFAULT_TUNE7)/training/fashionnet/curves.* $(DEFAULT_MODEL)/training/fashionnet/
	$(MAKE) build

models-fashion-mnist: deps build
	./$(BIN) train classifier --data $(FMNIST_DIR) --format fashion-mnist --out models/fashion-mnist \
		--epochs $(FMNIST_EPOCHS) --seed 1 $(RESUME)

# model-card evaluates both bundles on held-out data and writes models/default/MODEL_CARD.md.
model-card: build $(SYNTH_TEST)
	mkdir -p $(EVAL_DIR)
	./$(BIN) eval fashionnet --model $(DEFAULT_MODEL) --data $(call FN_DATA,$(SYNTH_TEST)) \
		--format $(FN_FORMATS) --json > $(EVAL_DIR)/fashionnet.json
	./$(BIN) eval detector --model $(DEFAULT_MODEL) --data $(SYNTH_TEST)/scenes --format deepfashion2 \
		--json > $(EVAL_DIR)/detector.json
	./$(BIN) eval aligner --model $(DEFAULT_MODEL) --data $(SYNTH_TEST)/fld --format deepfashion-fld \
		--json > $(EVAL_DIR)/aligner.json
	./$(BIN) eval pipeline --model $(DEFAULT_MODEL) --data $(SYNTH_TEST)/scenes --format deepfashion2 \
		--images 100 --json > $(EVAL_DIR)/pipeline.json
	./$(BIN) eval classifier --model models/fashion-mnist --data $(FMNIST_DIR) --format fashion-mnist \
		--json > $(EVAL_DIR)/classifier.json
	$(GO) run ./cmd/modelcard --bundle $(DEFAULT_MODEL) --classifier models/fashion-mnist \
		--eval $(EVAL_DIR) --out $(DEFAULT_MODEL)/MODEL_CARD.md

# ablation trains FashionNet four times for ABLATION_EPOCHS on the same synthetic split (seed
# SYNTH_SEED; the full configuration, then without landmark pooling, with weighted BCE for the
# attributes, and with random triplet negatives) and writes each one's held-out metrics (seed
# SYNTH_TEST_SEED) to out/ablation/NAME.json; the README's ablation table comes from them.
ABLATION_EPOCHS ?= 4
# The ablation keeps the recipe it was measured with (64 px crops, raw attribute scores), which is
# cheaper than the shipped network's.
ABLATION_FLAGS := --batch 32 --input-size 64 --backbone-widths 32,64,128,256 --attr-adjust 0
ABLATIONS := full|- no-pooling|--no-landmark-pooling weighted-bce|--attr-loss=weighted-bce random-negatives|--mining=random
.PHONY: ablation
ablation: build $(SYNTH_TRAIN) $(SYNTH_TEST)
	@mkdir -p out/ablation
	@for a in $(ABLATIONS); do name=$${a%%|*}; flag=$${a#*|}; [ "$$flag" = - ] && flag=; \
		./$(BIN) train fashionnet --data $(call FN_DATA,$(SYNTH_TRAIN)) --format $(FN_FORMATS) \
			--out out/ablation/$$name --seed $(SYNTH_SEED) $(ABLATION_FLAGS) --epochs $(ABLATION_EPOCHS) $$flag $(RESUME) >/dev/null && \
		./$(BIN) eval fashionnet --model out/ablation/$$name --data $(call FN_DATA,$(SYNTH_TEST)) \
			--format $(FN_FORMATS) --json > out/ablation/$$name.json || exit 1; \
		echo "$$name: out/ablation/$$name.json"; \
	done

# screenshot makes docs/screenshot.png: the page of `atelier serve` with the built-in model and
# a small demo catalog, a synthetic street photo analysed and its similar items shown
# (TestServeBrowser drives headless chromium, which deps installs).
.PHONY: screenshot
screenshot: deps
	ATELIER_SCREENSHOT=$(CURDIR)/docs/screenshot.png $(GO) test -count=1 -run '^TestServeBrowser$$' ./cmd/atelier/
