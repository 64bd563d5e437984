# Everything runs inside a local virtual environment that these targets create or reuse.
# `make test` installs the test and spark extras (the Spark example is tested for real; it needs
# Java 17), PostgreSQL's server binaries and Debian's chromium (the dashboard's browser tests);
# `make demo` needs only the project itself, `make bench` also its ui extra (dashboard page times).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean postgresql-server chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,spark]"
	touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(BIN)/python examples/demo.py

test: $(VENV)/.installed-test postgresql-server chromium
	$(BIN)/python -m pytest -q

# The PostgreSQL tests start a throwaway server from Debian's binaries; install them when missing
# (as root, as on CI). Elsewhere those tests skip and say how to get a server.
postgresql-server:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	    else echo "PostgreSQL server binaries not found: install postgresql to run its tests"; fi; }

# The dashboard's browser tests drive Debian's chromium through Playwright (no browser download);
# install it when missing (as root, as on CI). Elsewhere those tests skip and say what to install.
chromium:
	@command -v chromium >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else echo "chromium not found: install it to run the dashboard's browser tests"; fi; }

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[ui]"
	touch $@ $(VENV)/.installed-base

bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .bench build *.egg-info
