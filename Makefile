# The two set-up commands of the README:
#   make quickstart   install into .venv and run the main job
#   make test         install into .venv (with the dev extra) and run the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Two pytest workers (one per core); a test file stays on one worker, so its fixtures run once.
PYTEST_WORKERS ?= -n 2 --dist loadfile
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: quickstart test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

quickstart: $(STAMP)
	$(PY) -m zoo quickstart

test: $(STAMP)
	$(PY) -m ruff check zoo tests bench
	$(PY) -m ruff format --check zoo tests bench
	$(PY) -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	$(PY) bench/layers.py
	$(PY) bench/ode.py
	$(PY) bench/training.py --markdown
	$(PY) bench/serving.py --model cnn_digits
	$(PY) bench/serving.py --model lstm

clean:
	rm -rf $(VENV) build *.egg-info
