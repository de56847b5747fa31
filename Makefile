# The two commands of the README:  `make sweep`  and  `make test`.
# Both create .venv and install the project on first use (one-time), then run.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help sweep test lint bench bench-peer bound plan gpu-stage gpu-check report compare notebooks clean-results

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  (pass options with ARGS=\"...\", e.g. make sweep ARGS=\"--profile smoke\")"

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.installed-notebooks: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[notebooks]'
	@touch $@

# The test extras hold PyTorch's CUDA build (the only x86-64 one on PyPI) for the parity tests:
# about 6 GB more in .venv; too little disk gets one line, not pip's traceback.
TEST_EXTRAS_GB := 6
$(VENV)/.installed-test: $(VENV)/.installed
	@$(PY) -c "import torch" 2>/dev/null || { free=$$(df -Pk $(VENV) | awk 'NR==2 {print int($$4 / 1048576)}'); \
	  if [ "$$free" -lt $(TEST_EXTRAS_GB) ]; then echo "make test: $$free GB free on the disk of $(VENV); the test extras (PyTorch for the parity tests) need about $(TEST_EXTRAS_GB) GB: free some space, or set VENV to a folder on a larger disk" >&2; exit 2; fi; }
	$(PY) -m pip install -q -e '.[test,lint]'
	@touch $@

sweep: $(VENV)/.installed  ## the default study on triangles (CPU: preview profile), its table and report
	$(PY) -m benchmark sweep $(ARGS)

test: $(VENV)/.installed-test  ## install the test extras and run the whole test suite
	$(PY) -m pytest -n auto $(ARGS)

lint: $(VENV)/.installed-test  ## ruff, and the layering contracts (lint-imports)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

bench: $(VENV)/.installed  ## training throughput: run-steps/s for 1, 4, 16, 64 runs vmapped
	$(PY) -m benchmark bench $(ARGS)

bound: $(VENV)/.installed  ## FLOPs, bytes, memory per run-step counted by XLA vs GPU peaks (not measured)
	$(PY) -m benchmark bound $(ARGS)

plan: $(VENV)/.installed  ## runs, run-steps, evaluations, memory and hours of phases 1-3 on one GPU
	$(PY) -m benchmark plan $(ARGS)

# The GPU machine's python3 (3.12, x86-64) has JAX, flax, optax and torch but not simplejpeg
# (imported by the data registry) or pytorch-fid: their wheels travel in .whl/ (git-ignored).
GPU_WHEELS := simplejpeg==1.9.0 pytorch-fid==0.3.0
GPU_PLATFORMS := --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
	--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64

gpu-stage:  ## stage for the GPU machine: .carry/peer_torch.py (../shared/tools) and .whl/ wheels
	mkdir -p .carry
	cp ../shared/tools/peer_torch.py .carry/
	$(PYTHON) -m pip download -q --no-deps --only-binary=:all: $(GPU_PLATFORMS) -d .whl $(GPU_WHEELS)

gpu-check:  ## the prepared GPU check within a budget: make gpu-check ARGS="--budget 480"
	$(if $(wildcard .whl/*.whl),$(PYTHON) -m pip install -q --no-index --no-deps --no-compile --target /tmp/gpu-check-site .whl/*.whl &&) \
	PYTHONPATH=$(CURDIR):/tmp/gpu-check-site $(PYTHON) -m benchmark.tools.gpu_check $(ARGS)

bench-peer: $(VENV)/.installed-test  ## our NS GAN step vs the PyTorch peer (one run each, CPU)
	$(PY) -m benchmark bench-peer $(ARGS)

report: $(VENV)/.installed  ## tables and plots of a study: make report ARGS=results/default_preview
	$(PY) -m benchmark report $(ARGS)

compare: $(VENV)/.installed  ## a new loss against baselines: make compare MODEL=hinge BASELINES=results/default_preview
	@test -n "$(MODEL)" || { echo "make compare: give MODEL=NAME, e.g. make compare MODEL=hinge BASELINES=results/default_preview" >&2; exit 2; }
	$(PY) -m benchmark compare --model $(MODEL) $(if $(BASELINES),--baselines $(BASELINES)) $(ARGS)

notebooks: $(VENV)/.installed-notebooks  ## execute the report notebooks: make notebooks RESULTS=results/default_preview
	@test -n "$(RESULTS)" || { echo "make notebooks: give RESULTS=DIR, e.g. make notebooks RESULTS=results/default_preview" >&2; exit 2; }
	$(PY) -m benchmark.cli.notebooks $(RESULTS) $(ARGS)

clean-results:  ## delete results/ (studies' rows, samples and checkpoints)
	rm -rf results
