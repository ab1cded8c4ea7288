# Two commands do all the set-up on a fresh machine:
#   make demo   -- create .venv, install the project, run the main job
#   make test   -- create .venv, install with the test extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WORKDIR ?= workdir/demo

.PHONY: demo test install install-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(PY)
	$(PY) -m pip install -q -e .

install-test: $(PY)
	$(PY) -m pip install -q -e ".[test]"

# The train runs skip the snapshot pictures: the sample runs draw the same samples right after.
demo: install
	$(PY) main.py --config configs/default_toy.py --workdir $(WORKDIR)/toy --mode train --config.training.snapshot_sampling=False
	$(PY) main.py --config configs/default_toy.py --workdir $(WORKDIR)/toy --mode sample
	$(PY) main.py --config configs/default_digits.py --workdir $(WORKDIR)/digits --mode train --config.training.snapshot_sampling=False
	$(PY) main.py --config configs/default_digits.py --workdir $(WORKDIR)/digits --mode sample
	$(PY) -m benchmarks.recipe --figures $(WORKDIR)

test: install-test
	$(PY) -m pytest -q -n 2

clean:
	rm -rf $(VENV) workdir .pytest_cache
