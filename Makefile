# Build, run and test the SageMaker RL training images.
#   make build            build the default image (IMAGE=ray-pytorch-cpu)
#   make train            run a local training job in it, the way SageMaker does
#   make train EXAMPLE=…  run one of examples/ (cart-pole, knapsack, mountain-car, ...)
#   make examples         every example at full length; writes examples/RESULTS.md
#   make test             the default test suite (unit, in-process training, Docker image)
#   make test-cuda        build the CUDA variants and check them without a GPU (slow)
#   make test-fast        the default suite without its Docker tests
#   make test-faults      SIGTERM and SIGKILL at random moments, then restarts; writes tests/faults/RESULTS.md
#   make test-catalogue   every preset and algorithm: train, export, serve; writes tests/catalogue/RESULTS.md
#   make lint             ruff, hadolint on every Dockerfile, matrix and docs drift checks
#   make docs             regenerate docs/hyperparameters.md from the config models
#   make bench            benchmarks (time to solve against SB3 and Ray's floor, SAC against SB3,
#                         overheads, serving, serve-only image and a 10-minute soak, cluster,
#                         size, rebuild)
#   make build-all        every image this machine can build (images/matrix.toml)
#   make generate         regenerate the Dockerfiles from images/matrix.toml
#   make push REGISTRY=…  tag and push
# The Docker engine: whatever `docker` reaches, else a private engine this repo starts
# (tools/local-docker.sh). See README.md.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

IMAGE ?= ray-pytorch-cpu
REPOSITORY ?= sagemaker-rl
PYTHON ?= python3
# Everything about an image comes from images/matrix.toml.
MATRIX := $(PYTHON) tools/matrix.py
ifeq ($(shell $(MATRIX) get $(IMAGE) dockerfile 2>/dev/null),)
$(error unknown IMAGE=$(IMAGE); images: $(shell $(MATRIX) names))
endif
DOCKERFILE := $(shell $(MATRIX) get $(IMAGE) dockerfile)
LOCK := $(shell $(MATRIX) get $(IMAGE) lock)
TAGS := $(shell $(MATRIX) get $(IMAGE) tags)
IMAGE_REF := $(REPOSITORY):$(firstword $(TAGS))
# The serve-only image for the default image's ONNX policies (make bench compares the two).
SERVE_IMAGE := serve-onnx-cpu
SERVE_IMAGE_REF := $(REPOSITORY):$(shell $(MATRIX) get $(SERVE_IMAGE) tag)
IMAGE_TORCH := $(shell $(MATRIX) get $(IMAGE) torch)
MATRIX_TORCH_INDEX := $(shell $(MATRIX) get $(IMAGE) torch_index_url)
# The development venv always mirrors the CPU PyTorch image.
DEV_IMAGE := ray-pytorch-cpu
DEV_LOCK := $(shell $(MATRIX) get $(DEV_IMAGE) lock)
DEV_TORCH := $(shell $(MATRIX) get $(DEV_IMAGE) torch)

# The public base a user pulls. Where no registry is reachable, `make build` builds a local
# stand-in with debootstrap (tools/stand-in-base.sh) and says so.
BASE_IMAGE ?= $(shell $(MATRIX) get $(IMAGE) base_image)
# The stand-in matches the base's Python and Debian release (e.g. 3.9-bullseye for Coach).
STAND_IN_BASE := $(shell $(MATRIX) get $(IMAGE) stand_in_base)
STAND_IN_SUITE := $(shell $(MATRIX) get $(IMAGE) debian_suite)
# Offline wheels (e.g. torch's CPU build) for builds and the dev venv; defaults to pip's own
# find-links setting. When it holds torch, PyTorch's index is not consulted.
WHEELHOUSE ?= $(firstword $(PIP_FIND_LINKS) $(shell pip config get global.find-links 2>/dev/null))
TORCH_INDEX_URL ?= $(if $(and $(findstring +cpu,$(IMAGE_TORCH)),$(wildcard $(WHEELHOUSE)/torch-*+cpu-*.whl)),,$(MATRIX_TORCH_INDEX))
DEV_TORCH_INDEX := $(if $(wildcard $(WHEELHOUSE)/torch-*+cpu-*.whl),,$(shell $(MATRIX) get $(DEV_IMAGE) torch_index_url))

DOCKER := tools/docker
VENV := .venv
JOB_DIR ?= build/job
HP ?=
SOURCE_DIR ?=
PROGRAM ?=
PYTEST_ARGS ?=
EXAMPLE ?=
EXAMPLE_ARGS ?=
EXAMPLES := $(sort $(patsubst examples/%/run.py,%,$(wildcard examples/*/run.py)))

.PHONY: help
help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST) | head -22

# ---- development environment ------------------------------------------------------------
# $(call install-venv,PYTHON,DIR): DIR becomes a venv of PYTHON holding the CPU PyTorch image's
# locked packages and the entrypoint (editable).
define install-venv
	$(1) -m venv $(2)
	$(2)/bin/pip install --quiet --upgrade 'pip>=24'
	$(2)/bin/pip install --quiet --no-deps $(if $(WHEELHOUSE),--find-links $(WHEELHOUSE)) \
	    $(if $(DEV_TORCH_INDEX),--extra-index-url $(DEV_TORCH_INDEX)) '$(DEV_TORCH)'
	$(2)/bin/pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(2)/bin/pip install --quiet --no-deps --no-build-isolation -e entrypoint
endef

$(VENV)/.installed: $(DEV_LOCK) requirements-dev.txt entrypoint/pyproject.toml
	@echo "== creating $(VENV) from $(DEV_LOCK)"
	$(call install-venv,$(PYTHON),$(VENV))
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

.PHONY: venv
venv: $(VENV)/.installed

# ---- images -----------------------------------------------------------------------------
.PHONY: base-image
base-image:
	@if [ "$(BASE_IMAGE)" = "$(STAND_IN_BASE)" ]; then tools/stand-in-base.sh $(STAND_IN_BASE) $(STAND_IN_SUITE); fi

.PHONY: build
build: RESOLVED_BASE = $(shell $(DOCKER) image inspect $(BASE_IMAGE) >/dev/null 2>&1 \
    || $(DOCKER) pull -q $(BASE_IMAGE) >/dev/null 2>&1 && echo $(BASE_IMAGE) || echo $(STAND_IN_BASE))
build:
	@if [ "$(RESOLVED_BASE)" != "$(BASE_IMAGE)" ]; then \
	    echo "== $(BASE_IMAGE) cannot be pulled here: building on the local stand-in $(STAND_IN_BASE)"; \
	    tools/stand-in-base.sh $(STAND_IN_BASE) $(STAND_IN_SUITE); fi
	@find wheelhouse -name '*.whl' -delete
	@# Only a CPU-torch image may see the CPU wheel: `torch==2.13.0` would match `2.13.0+cpu` too.
	@if [ -n "$(WHEELHOUSE)" ] && [ -n "$(findstring +cpu,$(IMAGE_TORCH))" ] \
	    && ls $(WHEELHOUSE)/torch-*+cpu-*.whl >/dev/null 2>&1; then \
	    cp $(WHEELHOUSE)/torch-*+cpu-*.whl wheelhouse/; fi
	@echo "== building $(IMAGE_REF) from $(DOCKERFILE) on $(RESOLVED_BASE)"
	@mkdir -p build
	@# Progress lines only; a failed build fails make (pipefail) and shows its last lines: the
	@# previous image under the same tag must never pass for this one.
	$(DOCKER) build --progress=plain -f $(DOCKERFILE) \
	    --build-arg BASE_IMAGE=$(RESOLVED_BASE) \
	    $(if $(IMAGE_TORCH),--build-arg TORCH_INDEX_URL=$(TORCH_INDEX_URL)) \
	    --label org.opencontainers.image.revision=$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown) \
	    -t $(IMAGE_REF) . 2>&1 | tee build/docker-build-$(IMAGE).log \
	    | awk '/^#[0-9]+ (\[|DONE|ERROR|CACHED)|error|ERROR/' \
	    || { echo "== building $(IMAGE_REF) FAILED; its last lines (all: build/docker-build-$(IMAGE).log):"; \
	         tail -n 30 build/docker-build-$(IMAGE).log; exit 1; }
	@for tag in $(wordlist 2,9,$(TAGS)); do $(DOCKER) tag $(IMAGE_REF) $(REPOSITORY):$$tag; done
	@echo "== built $(IMAGE_REF) ($$($(DOCKER) image inspect -f '{{.Size}}' $(IMAGE_REF) | awk '{printf "%.2f GB", $$1/1e9}'))"

# ---- a local job, SageMaker style: /opt/ml mounted, `train` as the command ----------------
.PHONY: train
train: build
ifneq ($(EXAMPLE),)
	@test -f examples/$(EXAMPLE)/run.py || { echo "unknown EXAMPLE=$(EXAMPLE); examples: $(EXAMPLES)"; exit 2; }
	$(PYTHON) examples/$(EXAMPLE)/run.py --image $(IMAGE_REF) $(EXAMPLE_ARGS)
else
	@$(PYTHON) tools/local_job.py $(JOB_DIR) $(foreach kv,$(HP),-p $(kv)) \
	    $(if $(SOURCE_DIR),--source-dir $(SOURCE_DIR)) $(if $(PROGRAM),--program $(PROGRAM))
	@echo "== training in $(IMAGE_REF); /opt/ml is $(JOB_DIR)"
	$(DOCKER) run --rm --hostname algo-1 -v $(abspath $(JOB_DIR)):/opt/ml $(IMAGE_REF) train
	@echo "== model: $(JOB_DIR)/model/ ($$(ls $(JOB_DIR)/model | tr '\n' ' '))"
	@echo "== checkpoints: $(JOB_DIR)/checkpoints/, metrics: $(JOB_DIR)/output/"
endif

# Every example at full length (tens of minutes); examples/RESULTS.md records what they showed.
.PHONY: examples
examples: build
	$(PYTHON) examples/run_all.py --image $(IMAGE_REF) $(EXAMPLES)

.PHONY: metric-definitions
metric-definitions: venv
	@$(VENV)/bin/sagemaker-rl metric-definitions

# ---- tests and checks -------------------------------------------------------------------
# The default suite's marker expression is pytest.ini's (plain `pytest` selects the same). A -m
# on the command line replaces it rather than adding to it, so each target states its whole
# expression (tests/unit/test_make_targets.py checks what each one collects).
DEFAULT_MARKERS = $(or $(shell sed -n 's/^addopts *=.* -m "\([^"]*\)".*/\1/p' pytest.ini),\
    $(error pytest.ini's addopts has no -m "..." expression))

.PHONY: test
test: venv
	@echo "== Docker engine: $$($(DOCKER) version -f '{{.Server.Version}}')"
	WHEELHOUSE="$(WHEELHOUSE)" TORCH_INDEX_URL="$(TORCH_INDEX_URL)" \
	    $(VENV)/bin/pytest -m "$(DEFAULT_MARKERS)" $(PYTEST_ARGS)

.PHONY: test-cuda
test-cuda: venv
	$(VENV)/bin/pytest -m cuda_build tests/image/test_cuda.py $(PYTEST_ARGS)

.PHONY: test-faults
test-faults: venv
	$(VENV)/bin/pytest -m faults $(PYTEST_ARGS)

# Every preset and algorithm a user can pick: train, export, serve (tests/catalogue/RESULTS.md).
.PHONY: test-catalogue
test-catalogue: venv
	$(VENV)/bin/pytest -m catalogue $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: venv
	$(VENV)/bin/pytest -m "not docker and ($(DEFAULT_MARKERS))" $(PYTEST_ARGS)

.PHONY: lint
lint: venv
	$(VENV)/bin/ruff check entrypoint tests tools bench
	$(VENV)/bin/ruff format --check entrypoint tests tools bench
	$(VENV)/bin/hadolint images/*/*/*/Dockerfile
	$(VENV)/bin/python tools/matrix.py generate --check
	$(VENV)/bin/python tools/reference.py --check

.PHONY: docs
docs: venv
	$(VENV)/bin/python tools/reference.py

# ---- benchmarks (figures printed, not asserted; slower than the test suite) ----------------
# The training figures compare the image with a bare venv: that venv gets the same Python build
# as the image's base where this machine has it (Debian's python3 for the bookworm stand-in), so
# that the figure measures the container, not two interpreters (an unoptimised pyenv build ran
# the same job ~20% slower than the image).
BENCH_PYTHON ?= $(firstword $(wildcard /usr/bin/python$(shell $(MATRIX) get $(IMAGE) python)) $(PYTHON))
BENCH_VENV := build/bench/venv

$(BENCH_VENV)/.installed: $(DEV_LOCK) entrypoint/pyproject.toml
	@echo "== creating $(BENCH_VENV) with $(BENCH_PYTHON) ($$($(BENCH_PYTHON) --version))"
	$(call install-venv,$(BENCH_PYTHON),$(BENCH_VENV))
	touch $@

# The peer the image is compared with (bench/peer_bench.py): Stable-Baselines3 from the registry
# in a venv of its own, on the same Python build, torch's CPU build as for the image.
PEER_VENV := build/bench/peer-venv

$(PEER_VENV)/.installed: bench/peer-requirements.txt
	@echo "== creating $(PEER_VENV) (Stable-Baselines3) with $(BENCH_PYTHON)"
	$(BENCH_PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install --quiet --upgrade 'pip>=24'
	$(PEER_VENV)/bin/pip install --quiet $(if $(WHEELHOUSE),--find-links $(WHEELHOUSE)) \
	    $(if $(DEV_TORCH_INDEX),--extra-index-url $(DEV_TORCH_INDEX)) -r bench/peer-requirements.txt
	touch $@

.PHONY: bench
bench: venv $(BENCH_VENV)/.installed $(PEER_VENV)/.installed build-all
	@command -v wrk >/dev/null || { echo "== installing Debian's wrk"; apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	@rm -f build/bench/figures.jsonl
	$(BENCH_VENV)/bin/python bench/training_bench.py $(IMAGE_REF)
	$(BENCH_VENV)/bin/python bench/peer_bench.py $(IMAGE_REF) $(PEER_VENV)/bin/python
	$(BENCH_VENV)/bin/python bench/matched_bench.py $(IMAGE_REF) $(PEER_VENV)/bin/python
	$(BENCH_VENV)/bin/python bench/sac_bench.py $(IMAGE_REF) $(PEER_VENV)/bin/python
	$(VENV)/bin/python bench/startup_bench.py $(IMAGE_REF)
	$(VENV)/bin/python bench/serve_bench.py $(IMAGE_REF)
	$(VENV)/bin/python bench/serve_image_bench.py $(SERVE_IMAGE_REF) $(IMAGE_REF)
	$(VENV)/bin/python bench/soak_bench.py $(SERVE_IMAGE_REF)
	$(VENV)/bin/python bench/sweep_bench.py $(IMAGE_REF)
	$(VENV)/bin/python bench/cluster_bench.py $(IMAGE_REF)
	$(VENV)/bin/python bench/scaling_bench.py ml.c5.4xlarge --image $(IMAGE_REF)
	$(VENV)/bin/python bench/image_bench.py $$($(MATRIX) names --built-here)
	$(VENV)/bin/python bench/report.py

# ---- release ----------------------------------------------------------------------------
.PHONY: build-all
build-all:
	@for image in $$($(MATRIX) names --built-here); do $(MAKE) --no-print-directory build IMAGE=$$image; done

.PHONY: generate
generate: venv
	$(VENV)/bin/python tools/matrix.py generate

.PHONY: push
push:
	@test -n "$(REGISTRY)" || { echo "usage: make push REGISTRY=host/namespace"; exit 2; }
	@for tag in $(TAGS); do \
	    $(DOCKER) tag $(IMAGE_REF) $(REGISTRY)/$(REPOSITORY):$$tag; \
	    $(DOCKER) push $(REGISTRY)/$(REPOSITORY):$$tag; done

.PHONY: lock
lock: venv
	@# The wheelhouse's CPU torch would satisfy `torch==X` too: only +cpu images may see it.
	TORCH_INDEX_URL="$(TORCH_INDEX_URL)" $(VENV)/bin/python tools/matrix.py lock $(IMAGE) \
	    $(if $(and $(WHEELHOUSE),$(findstring +cpu,$(IMAGE_TORCH))),--find-links $(WHEELHOUSE)) \
	    $(LOCK_ARGS)

.PHONY: clean
clean:
	rm -rf build $(VENV)
