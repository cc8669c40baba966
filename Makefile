# Quick start: `make run` (service on 127.0.0.1:8000, embedded SQLite + queue)
# and `make test`. Everything a fresh machine or CI needs is installed from here.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test worker bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/amends serve --host $(HOST) --port $(PORT)

worker: $(VENV)/.installed
	$(VENV)/bin/amends worker

test: $(VENV)/.installed-test
	$(VENV)/bin/amends lint
	$(PY) -m pytest -q

bench: $(VENV)/.installed-test
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) instance .pytest_cache
