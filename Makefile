# Build, run and test the SageMaker RL training images.
#   make build            build the default image (IMAGE=ray-pytorch-cpu)
#   make train            run a local training job in it, the way SageMaker does
#   make test             the default test suite (unit, in-process training, Docker image)
#   make lint             ruff + hadolint
#   make bench            benchmarks: serving latency/throughput, cluster formation
#   make push REGISTRY=…  tag and push
# The Docker engine: whatever `docker` reaches, else a private engine this repo starts
# (tools/local-docker.sh). See README.md.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

IMAGE ?= ray-pytorch-cpu
REPOSITORY ?= sagemaker-rl
# Per image: Dockerfile, lock file, tag. (The image matrix will generate this table.)
DOCKERFILE_ray-pytorch-cpu := images/ray/pytorch/cpu/Dockerfile
LOCK_ray-pytorch-cpu := images/ray/pytorch/requirements.lock.txt
TAG_ray-pytorch-cpu := ray2.60-torch2.13-cpu-py311
DOCKERFILE := $(DOCKERFILE_$(IMAGE))
LOCK := $(LOCK_$(IMAGE))
IMAGE_REF := $(REPOSITORY):$(TAG_$(IMAGE))
ifeq ($(DOCKERFILE),)
$(error unknown IMAGE=$(IMAGE); known: ray-pytorch-cpu)
endif

# The public base a user pulls. Where no registry is reachable, `make build` builds a local
# stand-in with debootstrap (tools/stand-in-base.sh) and says so.
BASE_IMAGE ?= python:3.11-slim-bookworm
STAND_IN_BASE := local/stand-in-python:3.11-bookworm
# Offline wheels (e.g. torch's CPU build) for builds and the dev venv; defaults to pip's own
# find-links setting. When it holds torch, PyTorch's index is not consulted.
WHEELHOUSE ?= $(firstword $(PIP_FIND_LINKS) $(shell pip config get global.find-links 2>/dev/null))
TORCH_INDEX_URL ?= $(if $(wildcard $(WHEELHOUSE)/torch-*+cpu-*.whl),,https://download.pytorch.org/whl/cpu)

DOCKER := tools/docker
PYTHON ?= python3
VENV := .venv
JOB_DIR ?= build/job
HP ?=
SOURCE_DIR ?=
PROGRAM ?=
PYTEST_ARGS ?=

.PHONY: help
help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST) | head -20

# ---- development environment ------------------------------------------------------------
$(VENV)/.installed: $(LOCK) requirements-dev.txt entrypoint/pyproject.toml
	@echo "== creating $(VENV) from $(LOCK)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade 'pip>=24'
	$(VENV)/bin/pip install --quiet $(if $(WHEELHOUSE),--find-links $(WHEELHOUSE)) \
	    $(if $(TORCH_INDEX_URL),--extra-index-url $(TORCH_INDEX_URL)) \
	    -r $(LOCK) -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e entrypoint
	touch $@

.PHONY: venv
venv: $(VENV)/.installed

# ---- images -----------------------------------------------------------------------------
.PHONY: base-image
base-image:
	@if [ "$(BASE_IMAGE)" = "$(STAND_IN_BASE)" ]; then tools/stand-in-base.sh $(STAND_IN_BASE); fi

.PHONY: build
build: RESOLVED_BASE = $(shell $(DOCKER) image inspect $(BASE_IMAGE) >/dev/null 2>&1 \
    || $(DOCKER) pull -q $(BASE_IMAGE) >/dev/null 2>&1 && echo $(BASE_IMAGE) || echo $(STAND_IN_BASE))
build:
	@if [ "$(RESOLVED_BASE)" != "$(BASE_IMAGE)" ]; then \
	    echo "== $(BASE_IMAGE) cannot be pulled here: building on the local stand-in $(STAND_IN_BASE)"; \
	    tools/stand-in-base.sh $(STAND_IN_BASE); fi
	@find wheelhouse -name '*.whl' -delete
	@if [ -n "$(WHEELHOUSE)" ] && ls $(WHEELHOUSE)/torch-*+cpu-*.whl >/dev/null 2>&1; then \
	    cp $(WHEELHOUSE)/torch-*+cpu-*.whl wheelhouse/; fi
	@echo "== building $(IMAGE_REF) from $(DOCKERFILE) on $(RESOLVED_BASE)"
	$(DOCKER) build --progress=plain -f $(DOCKERFILE) \
	    --build-arg BASE_IMAGE=$(RESOLVED_BASE) \
	    --build-arg TORCH_INDEX_URL=$(TORCH_INDEX_URL) \
	    --label org.opencontainers.image.revision=$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown) \
	    -t $(IMAGE_REF) . 2>&1 | grep -E '^#[0-9]+ (\[|DONE|ERROR|CACHED)|error|ERROR' || true
	@$(DOCKER) image inspect $(IMAGE_REF) >/dev/null
	@echo "== built $(IMAGE_REF) ($$($(DOCKER) image inspect -f '{{.Size}}' $(IMAGE_REF) | awk '{printf "%.2f GB", $$1/1e9}'))"

# ---- a local job, SageMaker style: /opt/ml mounted, `train` as the command ----------------
.PHONY: train
train: build
	@$(PYTHON) tools/local_job.py $(JOB_DIR) $(foreach kv,$(HP),-p $(kv)) \
	    $(if $(SOURCE_DIR),--source-dir $(SOURCE_DIR)) $(if $(PROGRAM),--program $(PROGRAM))
	@echo "== training in $(IMAGE_REF); /opt/ml is $(JOB_DIR)"
	$(DOCKER) run --rm --hostname algo-1 -v $(abspath $(JOB_DIR)):/opt/ml $(IMAGE_REF) train
	@echo "== model: $(JOB_DIR)/model/ ($$(ls $(JOB_DIR)/model | tr '\n' ' '))"
	@echo "== checkpoints: $(JOB_DIR)/checkpoints/, metrics: $(JOB_DIR)/output/"

.PHONY: metric-definitions
metric-definitions: venv
	@$(VENV)/bin/sagemaker-rl metric-definitions

# ---- tests and checks -------------------------------------------------------------------
.PHONY: test
test: venv
	@echo "== Docker engine: $$($(DOCKER) version -f '{{.Server.Version}}')"
	WHEELHOUSE="$(WHEELHOUSE)" TORCH_INDEX_URL="$(TORCH_INDEX_URL)" \
	    $(VENV)/bin/pytest $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: venv
	$(VENV)/bin/pytest -m "not docker" $(PYTEST_ARGS)

.PHONY: lint
lint: venv
	$(VENV)/bin/ruff check entrypoint tests tools bench
	$(VENV)/bin/ruff format --check entrypoint tests tools bench
	$(VENV)/bin/hadolint $(DOCKERFILE)

# ---- benchmarks (figures printed, not asserted; slower than the test suite) ----------------
.PHONY: bench
bench: venv build
	@command -v wrk >/dev/null || { echo "== installing Debian's wrk"; apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(VENV)/bin/python bench/serve_bench.py
	$(VENV)/bin/python bench/cluster_bench.py $(IMAGE_REF)

# ---- release ----------------------------------------------------------------------------
.PHONY: push
push:
	@test -n "$(REGISTRY)" || { echo "usage: make push REGISTRY=host/namespace"; exit 2; }
	$(DOCKER) tag $(IMAGE_REF) $(REGISTRY)/$(IMAGE_REF)
	$(DOCKER) push $(REGISTRY)/$(IMAGE_REF)

.PHONY: lock
lock:
	@echo "== resolving $(dir $(LOCK))requirements.in into $(LOCK)"
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install --quiet $(if $(WHEELHOUSE),--find-links $(WHEELHOUSE)) \
	    $(if $(TORCH_INDEX_URL),--extra-index-url $(TORCH_INDEX_URL)) -r $(dir $(LOCK))requirements.in
	{ echo "# Generated from requirements.in by \`make lock\`: every package the image installs, pinned."; \
	  build/lock-venv/bin/pip freeze --all | grep -v '^pip=='; } > $(LOCK)

.PHONY: clean
clean:
	rm -rf build $(VENV)
