# Every target creates the virtualenvs on first use, so a fresh clone needs only `make`.
PYTHON ?= python3
VENV ?= .venv
CHECKOV_VENV ?= .venv-checkov
BIN := $(VENV)/bin
STACK ?= local
# pytest workers (pytest-xdist); the build machines have two cores.
TEST_WORKERS ?= 2

.PHONY: plan test bench lint install clean test-tools docs mutate golden

install: $(VENV)/.installed $(CHECKOV_VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Checkov pins its own dependency tree; a separate venv keeps it from fighting Pulumi's.
$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==3.3.30'
	touch $@

plan: $(VENV)/.installed
	$(BIN)/llm-platform plan --stack $(STACK)

# promtool, amtool and the Pushgateway come from Debian: installed here when running as root,
# otherwise the script names the command to run.
test-tools:
	bash scripts/ensure-test-tools

# `make test` only compares with tests/golden: a variable meant to rewrite golden files (set in
# the environment or on the command line) stops it before anything runs; `make golden` rewrites.
ifneq ($(filter test,$(MAKECMDGOALS)),)
GOLDEN_UPDATE_VARS := $(strip $(foreach v,$(.VARIABLES),$(if $(or $(findstring GOLDEN,$(v)),$(findstring golden,$(v))),$(v))))
ifneq ($(GOLDEN_UPDATE_VARS),)
$(error make test never rewrites golden files, but $(GOLDEN_UPDATE_VARS) is set: unset it and run `make golden`)
endif
endif

test: install test-tools
	$(BIN)/ruff check components policies tests bench platform .github/scripts scripts/golden scripts/mutate
	CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# Plan every stack, rewrite tests/golden/<stack>/ and print which files changed (+/- lines).
golden: $(VENV)/.installed
	$(BIN)/python scripts/golden

bench: $(VENV)/.installed
	$(BIN)/python bench/policy.py
	$(BIN)/python bench/bench.py

# Mutation score per module of the pure code (mutation/groups.toml); MUTATE=sizing for one group.
mutate: $(VENV)/.installed
	$(BIN)/python scripts/mutate $(MUTATE)

# The JSON Schemas in schema/ and the README's field reference, from the spec's model.
docs: $(VENV)/.installed
	$(BIN)/python -m components.spec.docs

lint: $(VENV)/.installed
	$(BIN)/ruff check components policies tests bench platform .github/scripts scripts/golden scripts/mutate

clean:
	rm -rf out .pytest_cache .hypothesis build/mutate mutants
