# linkcast: `make run` starts the service, `make test` runs the whole test suite. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint types bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/linkcast serve

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: $(STAMP)
	$(BIN)/mypy

# make bench: every benchmark in turn, one after the other (sharing the cores would spoil their figures), about
# 15 minutes; each also alone. Figures go to bench/results/ (results.md and .json, store/workers/hostile.json).
BENCH_RESULTS := bench/results
.PHONY: bench-run bench-store bench-workers bench-hostile

bench: $(STAMP)
	$(MAKE) --no-print-directory bench-run
	$(MAKE) --no-print-directory bench-store
	$(MAKE) --no-print-directory bench-workers
	$(MAKE) --no-print-directory bench-hostile

bench-run: $(STAMP)
	$(BIN)/python -m bench.run --out $(BENCH_RESULTS)

bench-store: $(STAMP)
	$(BIN)/python -m bench.bench_store --json $(BENCH_RESULTS)/store.json

bench-workers: $(STAMP)
	$(BIN)/python -m bench.bench_workers --json $(BENCH_RESULTS)/workers.json

bench-hostile: $(STAMP)
	$(BIN)/python -m bench.bench_hostile --json $(BENCH_RESULTS)/hostile.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
