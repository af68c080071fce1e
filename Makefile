# Two entry points for a fresh machine (see README):
#   make playbooks   build the playbook pages on the embedded default data
#   make test        run the test suite
#   make bench       run the benchmarks (minutes; writes benchmarks/RESULTS.md)
# Each creates .venv and installs the package when needed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: playbooks test bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

playbooks: $(STAMP)
	$(PY) -m helpers build

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf build playbooks/site
