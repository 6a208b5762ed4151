# `make quickstart` and `make test` set everything up on a fresh machine, then run.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
PLUGINS := $(dir $(wildcard plugins/*/setup.cfg))

.PHONY: setup quickstart test clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml $(wildcard plugins/*/setup.cfg)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[test]" $(addprefix -e ./,$(PLUGINS))
	touch $@

quickstart: $(STAMP)
	$(VENV)/bin/tfi2i train --config configs/quickstart.yaml

# Two processes, a test file to each (its tests in order, its session fixtures built once):
# most of a test's time is Python tracing graphs on one core, so two cores run two files. Files
# go out slowest first (tests/conftest.py's order, which --no-loadscope-reorder keeps).
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

clean:
	rm -rf $(VENV) runs
