# `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the real MCP clients the tests drive (MCP Inspector CLI, Claude Code), from npm
CLIENTS := tests/clients
CLIENTS_STAMP := $(CLIENTS)/node_modules/.installed
# torch is installed first, pinned, so that pip does not pull CUDA wheels for it (av2 needs torch).
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(CLIENTS_STAMP): $(CLIENTS)/package.json
	cd $(CLIENTS) && npm install --no-audit --no-fund --silent
	touch $(CLIENTS_STAMP)

demo: $(STAMP)
	$(BIN)/avmine demo --out avmine-demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck $(CLIENTS_STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py

clean:
	rm -rf $(VENV) $(CLIENTS)/node_modules avmine-demo .mypy_cache .ruff_cache .pytest_cache
