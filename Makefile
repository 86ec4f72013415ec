# One-command set-ups for a fresh machine: `make demo` and `make test`.
# Each creates the virtual environment first; `make test` also fetches the
# Apache Kafka jars (cached) and its fixtures start Kafka and PostgreSQL.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PEER   := .venv-peer
PEER_STAMP := $(PEER)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Test processes (pytest-xdist): each starts its own Kafka broker and PostgreSQL server when its tests
# first ask for one, so a test that restarts or kills a server disturbs no other process's tests.
TEST_WORKERS ?= 2

.PHONY: venv demo test lint typecheck unit bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,scoring]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: venv
	$(BIN)/fengkong demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/python -m pytest -q tests/unit tests/property

test: venv lint typecheck
	bash services/fetch_kafka.sh > /dev/null
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The benchmark's peer, Quix Streams, in its own environment: it pins pydantic below the
# engine's version. Only the `bench` extra of pyproject.toml goes in (the peer row runs
# benchmarks/peer.py from the source tree).
$(PEER_STAMP): pyproject.toml
	$(PYTHON) -m venv $(PEER)
	$(PEER)/bin/python -m pip install --quiet --upgrade pip
	$(PEER)/bin/python -c "import subprocess, sys, tomllib; \
		extra = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['bench']; \
		subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet', *extra])"
	rm -f $(PEER)/.installed-*
	touch $@

# The benchmark (docs/benchmarks.md): 1M events over 100k accounts, PostgreSQL on a throwaway
# server, a throwaway Kafka broker for the Kafka rows (jars as for `make test`) and the peer's
# environment; BENCH_ARGS adds or overrides options, e.g. BENCH_ARGS="--events 100000".
bench: venv $(PEER_STAMP)
	bash services/fetch_kafka.sh > /dev/null
	$(BIN)/python -m benchmarks --postgres auto --kafka auto --peer-python $(PEER)/bin/python \
		--write-docs docs/benchmarks.md $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(PEER) .pytest_cache .mypy_cache .ruff_cache .hypothesis
