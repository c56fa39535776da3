# linkcast: `make run` starts the service, `make test` runs the whole test suite, `make bench` the benchmarks.
# Each sets up .venv first with what it needs and no more: the service alone for `run`; its test tools for `test`,
# `lint` and `types`; the bench's peers (Scrapy, matplotlib...) for the benches, with the test tools, since the benches
# start the test suite's servers (bench_hostile imports tests/hostile). A stamp per set of extras installs each once,
# and again when pyproject.toml changes. CI (.ci/run) installs the bench's too, for the smoke tests of the benches.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVICE := $(VENV)/.installed
TEST_TOOLS := $(VENV)/.installed-test
BENCH_TOOLS := $(VENV)/.installed-bench

.PHONY: run test lint types bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(SERVICE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_TOOLS): $(SERVICE)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(BENCH_TOOLS): $(TEST_TOOLS)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

run: $(SERVICE)
	$(BIN)/linkcast serve

test: $(TEST_TOOLS)
	$(BIN)/python -m pytest

lint: $(TEST_TOOLS)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: $(TEST_TOOLS)
	$(BIN)/mypy

# make bench: every benchmark in turn, one after the other (sharing the cores would spoil their figures), about
# 60 minutes (bench-crawl alone 15-25, bench-feed-polls 15-20); each also alone. Figures go to
# bench/results/ (results.md and .json, store/workers/hostile/websub/submit/webhooks/crawl/feed_polls.json).
BENCH_RESULTS := bench/results
.PHONY: bench-run bench-store bench-workers bench-hostile bench-websub bench-submit bench-webhooks bench-crawl \
	bench-feed-polls

bench: $(BENCH_TOOLS)
	$(MAKE) --no-print-directory bench-run
	$(MAKE) --no-print-directory bench-store
	$(MAKE) --no-print-directory bench-workers
	$(MAKE) --no-print-directory bench-hostile
	$(MAKE) --no-print-directory bench-websub
	$(MAKE) --no-print-directory bench-submit
	$(MAKE) --no-print-directory bench-webhooks
	$(MAKE) --no-print-directory bench-crawl
	$(MAKE) --no-print-directory bench-feed-polls

bench-run: $(BENCH_TOOLS)
	$(BIN)/python -m bench.run --out $(BENCH_RESULTS)

bench-store: $(BENCH_TOOLS)
	$(BIN)/python -m bench.bench_store --json $(BENCH_RESULTS)/store.json

bench-workers: $(BENCH_TOOLS)
	$(BIN)/python -m bench.bench_workers --json $(BENCH_RESULTS)/workers.json

bench-hostile: $(BENCH_TOOLS)
	$(BIN)/python -m bench.bench_hostile --json $(BENCH_RESULTS)/hostile.json

bench-websub: $(BENCH_TOOLS)
	$(BIN)/python -m bench.bench_websub --json $(BENCH_RESULTS)/websub.json

bench-submit: $(BENCH_TOOLS)
	$(BIN)/python -m bench.bench_submit --json $(BENCH_RESULTS)/submit.json

bench-webhooks: $(BENCH_TOOLS)
	$(BIN)/python -m bench.bench_webhooks --json $(BENCH_RESULTS)/webhooks.json

bench-crawl: $(BENCH_TOOLS)
	$(BIN)/python -m bench.bench_crawl --json $(BENCH_RESULTS)/crawl.json

bench-feed-polls: $(BENCH_TOOLS)
	$(BIN)/python -m bench.bench_feed_polls --redis --json $(BENCH_RESULTS)/feed_polls.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
