# `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the real MCP clients the tests drive (MCP Inspector CLI, Claude Code), from npm
CLIENTS := tests/clients
CLIENTS_STAMP := $(CLIENTS)/node_modules/.installed
# torch (av2 needs it) is installed first. On pip's default index this pin resolves to the CUDA build, which
# pulls about 17 nvidia-* packages; for the CPU build, pass PyTorch's CPU-only wheel index (the --index-url that
# pytorch.org's install selector shows for Linux, pip, CPU): make TORCH_PIP_ARGS="--index-url URL" demo
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
# extra options for `avmine demo`, e.g. make demo DEMO_ARGS=--replace-db (rebuild a demo database that holds your work)
DEMO_ARGS ?=

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(CLIENTS_STAMP): $(CLIENTS)/package.json
	cd $(CLIENTS) && npm install --no-audit --no-fund --silent
	touch $(CLIENTS_STAMP)

demo: $(STAMP)
	$(BIN)/avmine demo --out avmine-demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	mkdir -p build/typecheck/avmine
	for folder in server atomic vlm store evaluation; do ln -sfn ../../../$$folder build/typecheck/avmine/$$folder; done
	$(BIN)/mypy $$(find -L build/typecheck/avmine -name '*.py' -not -path '*/demo_data/*' | sort)

test: lint typecheck $(CLIENTS_STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py

clean:
	rm -rf $(VENV) $(CLIENTS)/node_modules avmine-demo .mypy_cache .ruff_cache .pytest_cache
