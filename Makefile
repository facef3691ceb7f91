# Two commands on a fresh machine with Python 3.11: `make run` (the demo build) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CORES ?= all

.PHONY: run test test-slow lint clean

# scispaCy declares numpy<2 but runs on numpy 2 (see ../shared/notes/TOOLING.md): it and its
# nmslib wheel are installed without dependencies, from their own pinned lock.
$(INSTALLED): requirements.lock requirements-nodeps.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

run: $(INSTALLED)
	$(BIN)/snakemake --cores $(CORES)

test: $(INSTALLED)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(INSTALLED)
	$(BIN)/python -m pytest -q -m slow

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

clean:
	rm -rf results resources .snakemake
