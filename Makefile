# promosync quick start: `make demo`, then `make test`. Needs only Python 3.11.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo ui test chaos lock bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e ".[sandbox,ui]"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e ".[test]"
	touch $@

demo: $(VENV)/.installed  ## sandbox on free ports, sync both platforms into DuckDB, summary, stop
	$(BIN)/python scripts/demo.py

UI_PORT ?= 3000
ui: $(VENV)/.installed  ## Dagster UI on the demo warehouse and a running sandbox; Ctrl-C stops both
	$(BIN)/python scripts/ui.py --port $(UI_PORT)

test: $(VENV)/.installed-test  ## lint, then the whole suite against DuckDB and PostgreSQL
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadfile

chaos: $(VENV)/.installed-test  ## the full reliability suite (docs/RELIABILITY.md): kills, faults, moving data
	bash scripts/ensure-postgres.sh
	PROMOSYNC_CHAOS=full $(BIN)/python -m pytest -n 2 --dist load tests/reliability

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(PIP) -e ".[test,bench]"
	touch $@

BENCH_CUSTOMERS ?= 100000
bench: $(VENV)/.installed-bench  ## bench/suite.py: sandbox, scale, rate limit, peers, push at BENCH_CUSTOMERS (bench/RESULTS.md)
	$(BIN)/python bench/suite.py --customers $(BENCH_CUSTOMERS)

lock:  ## re-pin constraints.txt from the current .venv
	$(BIN)/python -m pip freeze --all --exclude-editable | sed '/^promosync/d; /^pip==/d' > constraints.tmp
	(sed -n '1,2p' constraints.txt; cat constraints.tmp) > constraints.new  # keep the header
	mv constraints.new constraints.txt; rm constraints.tmp

clean:
	rm -rf $(VENV) .promosync .dagster .pytest_cache .ruff_cache
