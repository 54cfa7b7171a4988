# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up first:
# Debian packages for the EGL renderer (when root and missing), a .venv, and pip with
# constraints.txt (torch==2.13.0: any other torch pulls gigabytes of CUDA wheels).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.painctl-installed
APT_PACKAGES := libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri

# The anny head model is built once (about a minute, ~3.5 GB RAM) and loaded from this cache after.
export ANNY_CACHE_DIR ?= $(CURDIR)/.cache/anny
export WARP_CACHE_PATH ?= $(CURDIR)/.cache/warp

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	  else echo "painctl: please install the Debian packages $(APT_PACKAGES) (needs root)" >&2; fi; \
	fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh demo-out

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf demo-out .pytest_cache
