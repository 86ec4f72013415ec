# One-command set-ups for a fresh machine: `make demo` and `make test`.
# Each creates the virtual environment first; `make test` also fetches the
# Apache Kafka jars (cached) and its fixtures start Kafka and PostgreSQL.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: venv demo test lint typecheck unit bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: venv
	$(BIN)/fengkong demo

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/python -m pytest -q tests/unit tests/property

test: venv lint typecheck
	bash services/fetch_kafka.sh > /dev/null
	$(BIN)/python -m pytest

# The benchmark (docs/benchmarks.md): 1M events over 100k accounts, PostgreSQL on a
# throwaway server; BENCH_ARGS adds or overrides options, e.g. BENCH_ARGS="--events 100000".
bench: venv
	$(BIN)/fengkong bench --postgres auto --write-docs docs/benchmarks.md $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
