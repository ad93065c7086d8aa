# The two commands a new user needs: `make demo` and `make test`. Each creates/updates .venv itself.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_BASE := $(VENV)/.installed-base
STAMP_DEV  := $(VENV)/.installed-dev

.PHONY: demo test lint venv dev bench clean ci-services

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_BASE): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -e '.[server]'
	@touch $@

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -e '.[dev]'
	@touch $@ $(STAMP_BASE)

venv: $(STAMP_BASE)
dev: $(STAMP_DEV)

demo: $(STAMP_BASE)
	$(VENV)/bin/ballast demo

# numba's on-disk cache only notices edits to a function's own file, not to the functions it
# calls in other files; keying the cache folder by a hash of the sources keeps tests honest.
SRC_HASH = $(shell cat $$(find src -name '*.py' | sort) | sha1sum | cut -c1-12)

# .ci/env.sh (written by .ci/services.sh) points the tests at the PostgreSQL and Chromium it set up.
test: $(STAMP_DEV)
	@if [ -f .ci/env.sh ]; then . ./.ci/env.sh; fi; \
	NUMBA_CACHE_DIR=$(VENV)/numba-cache/$(SRC_HASH) $(PY) -m pytest -n 2 --timeout=600 $(PYTEST_ARGS)

# Style, types and the import contracts of docs/architecture.md (pyproject.toml's tool sections).
lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	PYTHONPATH=src $(VENV)/bin/lint-imports  # this tree's src, also from a git worktree

# The benchmark's reference libraries (bt, vectorbt) live in their own venv, never in .venv.
BENCH_VENV := .venv-bench
bench:
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r bench/requirements.txt -e .
	$(BENCH_VENV)/bin/python bench/run.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) demo-out .pytest_cache .hypothesis
