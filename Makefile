# Two entry points (see README.md):
#   make run    set everything up, then execute the reference-solution notebook and print its test accuracy
#   make test   set everything up, then run the test suite
#   make bench-setup   add the benchmarks' extra packages (PyTorch, CPU build) to the virtual environment
# SIGNS_DIR=/path/to/folder copies the data from a local folder instead of downloading it.
# The data step also places the Sign Language Digits set (datasets/digits/): a local copy, or its source archive, converted (skipped when offline).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SIGNS_DIR ?=

.PHONY: run test setup data lint clean-venv bench-setup

run: setup
	$(PY) -m resnets_kit.run_notebook

test: setup
	$(PY) -m pytest

setup: $(VENV)/.installed data

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

data: $(VENV)/.installed
	$(PY) -m resnets_kit.data $(if $(SIGNS_DIR),--from "$(SIGNS_DIR)")
	SIGNS_DIR= $(PY) -m resnets_kit.data --dataset digits --optional

bench-setup: $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements.txt

lint: $(VENV)/.installed
	$(PY) -m ruff check .

clean-venv:
	rm -rf $(VENV)
