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

# The checkerboard's training and sampling run in the background (their output in
# $(WORKDIR)/toy.log) while the digits train and sample here: either alone keeps the 2 cores of the
# reference machine only ~1.4 busy. The train runs skip the snapshot pictures: the sample runs draw
# the same samples right after. A failure of either stops the other and the demo.
TOY := $(PY) main.py --config configs/default_toy.py --workdir $(WORKDIR)/toy
DIGITS := $(PY) main.py --config configs/default_digits.py --workdir $(WORKDIR)/digits
demo: install
	@mkdir -p $(WORKDIR)
	@echo "checkerboard: training and sampling in the background, output in $(WORKDIR)/toy.log"
	@( $(TOY) --mode train --config.training.snapshot_sampling=False && $(TOY) --mode sample ) \
	    > $(WORKDIR)/toy.log 2>&1 & toy=$$!; \
	  stop() { pkill -TERM -P $$toy; kill $$toy; } 2>/dev/null; trap 'stop; exit 130' INT TERM; \
	  $(DIGITS) --mode train --config.training.snapshot_sampling=False && $(DIGITS) --mode sample \
	    || { stop; exit 1; }; \
	  echo "digits done; waiting for the checkerboard"; \
	  wait $$toy || { echo "checkerboard failed ($(WORKDIR)/toy.log):"; tail -n 5 $(WORKDIR)/toy.log; exit 1; }; \
	  tr '\r' '\n' < $(WORKDIR)/toy.log | grep -v '^$$' | tail -n 3
	$(PY) -m benchmarks.recipe --figures $(WORKDIR)

test: install-test
	$(PY) -m pytest -q -n 2

clean:
	rm -rf $(VENV) workdir .pytest_cache
