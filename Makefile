# Two entry points (see README.md):
#   make run    set everything up, then execute the reference-solution notebook and print its test accuracy
#   make test   set everything up, then run the test suite
#   make formgrader    open JupyterLab in course/ for nbgrader's Formgrader (docs/instructors.md)
#   make bench-setup   add the benchmarks' extra packages (PyTorch, CPU build) to the virtual environment
# SIGNS_DIR=/path/to/folder copies the data from a local folder instead of downloading it.
# The data step also places the Sign Language Digits set (datasets/digits/): a local copy, or its source archive, converted (skipped when offline).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SIGNS_DIR ?=

.PHONY: run test setup lint clean-venv bench-setup formgrader

run: setup
	$(PY) -m resnets_kit.run_notebook

# The suite runs on TEST_WORKERS processes (pytest-xdist), one test file per process at a time, so
# that a file's module fixtures are built once: 2 on a 2-core machine halves the wall time.
TEST_WORKERS ?= 2

test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# The set-up is resnets_kit/bootstrap.py (Python alone, also on Windows); make calls it, so the two
# cannot drift. It installs the maintainers' set of pyproject.toml and skips pip when nothing changed.
setup:
	$(PYTHON) -m resnets_kit.bootstrap --venv $(VENV) setup --for maintainer $(if $(SIGNS_DIR),--signs-dir "$(SIGNS_DIR)")

formgrader: setup
	$(PY) -m resnets_kit.bootstrap --venv $(VENV) formgrader

bench-setup: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements.txt

lint: setup
	$(PY) -m ruff check .

clean-venv:
	rm -rf $(VENV)
