# Every target creates the virtualenvs on first use, so a fresh clone needs only `make`.
# Every install comes from a lock in locks/ (scripts/lock writes them; see locks/environments.toml):
# uv installs the pinned versions and checks each file against the lock's hash.
PYTHON ?= python3
VENV ?= .venv
CHECKOV_VENV ?= .venv-checkov
GATEWAY_VENV ?= .venv-gateway
LIFECYCLE_VENV ?= .venv-lifecycle
UV_VENV ?= .venv-uv
BIN := $(VENV)/bin
UV := $(UV_VENV)/bin/uv
STACK ?= local
# pytest workers (pytest-xdist). The build machines have two cores, but much of the suite waits
# on processes of its own (the pack over gRPC, Checkov, promtool, test servers), and a third
# worker fills those waits: `make test` took 300 s with two and 260 s with three (2026-12-02).
TEST_WORKERS ?= 3
# The tests that start the real gateway (make test-gateway).
GATEWAY_TESTS := tests/test_gateway_proxy.py tests/test_gateway_runtime.py
# The tests that run the model-tools image's CLIs from .venv-lifecycle against moto's S3, a stub
# Hub, stub model servers and a real Pushgateway (make test-lifecycle).
LIFECYCLE_TESTS := tests/test_lifecycle_sync.py tests/test_lifecycle_signing.py tests/test_lifecycle_gate.py
# The training harness from .venv-lifecycle around a PyTorch loop on CPU, against moto's S3 and
# a real Pushgateway (make test-training).
TRAINING_TESTS := tests/test_training_harness.py
# The GitHub workflows' jobs run end to end by tests/workflow_harness.py, each with the offline
# plans of its matrix legs (make test-workflows).
WORKFLOW_TESTS := tests/test_workflow_runs.py
# Where torch's CPU build (torch==2.13.0+cpu in locks/test.txt) comes from: this machine's
# wheel directory when it holds it, else PyTorch's CPU index; the lock's hash checks it either way.
TORCH_LINKS ?= $(if $(wildcard /opt/wheels/torch-*+cpu-*.whl),/opt/wheels,https://download.pytorch.org/whl/cpu/torch/)
# uv.toml is for Renovate's runs (torch's CPU index page); here the Makefile names the wheel
# source itself, so uv reads no config file.
export UV_NO_CONFIG := 1
# $(call locked,<venv>,<lock> [options]): the lock's pins into the venv, nothing unhashed,
# compiled to bytecode as pip does: uv does not by default, and where PYTHONDONTWRITEBYTECODE
# is set (as on the CI machines) every run would parse pulumi_aws's sources again.
locked = $(UV) pip install --python $(1)/bin/python --require-hashes --compile-bytecode -r $(2)

.PHONY: plan deps checkov test test-gateway test-lifecycle test-training test-workflows scan bench bench-install lint install clean test-tools docs mutate golden lock

install: $(VENV)/.test $(CHECKOV_VENV)/.installed $(GATEWAY_VENV)/.installed $(LIFECYCLE_VENV)/.installed

# uv itself, from its own lock, with pip: the one install that uv cannot do.
$(UV): locks/uv.txt
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r locks/uv.txt
	touch $@

$(BIN)/python: | $(UV)
	$(UV) venv --quiet --python $(PYTHON) $(VENV)

# The library and its base dependencies: all the `local` stack and the on-prem stacks need.
# The project installs last, without build isolation, so its build backend is the lock's.
$(VENV)/.plan: locks/plan.txt pyproject.toml | $(BIN)/python
	$(call locked,$(VENV),locks/plan.txt)
	$(UV) pip install --python $(BIN)/python --quiet --no-deps --no-build-isolation -e .
	touch $@

# A cloud's provider SDK (pyproject's extra of the same name), for a stack on that cloud.
$(VENV)/.plan_%: locks/plan_%.txt $(VENV)/.plan
	$(call locked,$(VENV),$<)
	touch $@

# Everything the tests need: every cloud's SDK, the quality monitor's model, the test tools.
$(VENV)/.test: locks/test.txt $(VENV)/.plan
	$(call locked,$(VENV),locks/test.txt) --find-links $(TORCH_LINKS)
	touch $@

# Checkov pins its own dependency tree; a separate venv keeps it from fighting Pulumi's.
# --allow-existing: a changed lock reinstalls into the venv it already has.
$(CHECKOV_VENV)/.installed: locks/checkov.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(CHECKOV_VENV)
	$(call locked,$(CHECKOV_VENV),locks/checkov.txt)
	touch $@

# Checkov alone, for preview.yml's scan of a cloud stack's exports: the pinned version from
# locks/checkov.txt, as `make install` and `make scan` use it.
checkov: $(CHECKOV_VENV)/.installed

# The gateway's LiteLLM proxy and our runtime's drivers (locks/gateway.txt, as in its image):
# its own venv, because LiteLLM's tree pins packages Pulumi's would move. The tests run the
# proxy and components/gateway from it (GATEWAY_PYTHON in `test`).
$(GATEWAY_VENV)/.installed: locks/gateway.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(GATEWAY_VENV)
	$(call locked,$(GATEWAY_VENV),locks/gateway.txt)
	touch $@

# The model lifecycle's runtime (locks/lifecycle.txt, as in docker/model-tools.Dockerfile): the
# sync, verify and eval-gate CLIs of components/lifecycle. Its own venv, because s3fs pins the
# botocore that the test lock's boto3 and moto would move. The tests run those CLIs from it
# (LIFECYCLE_PYTHON in `test`).
$(LIFECYCLE_VENV)/.installed: locks/lifecycle.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(LIFECYCLE_VENV)
	$(call locked,$(LIFECYCLE_VENV),locks/lifecycle.txt)
	touch $@

# The venv a stack's plan and its `pulumi preview` and `up` run in: the library and the extras
# the stack's environment needs (none on-prem, its cloud's SDK otherwise), nothing for tests.
deps: $(VENV)/.plan
	@extras="$$($(BIN)/llm-platform extras --stack $(STACK))" || exit 2; \
	for extra in $$extras; do $(MAKE) --no-print-directory $(VENV)/.plan_$$extra || exit 1; done

plan: deps
	$(BIN)/llm-platform plan --stack $(STACK)

# Rewrite every lock in locks/ from pyproject.toml (needs PyPI); scripts/lock --help for upgrades.
lock: $(UV)
	$(PYTHON) scripts/lock

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
	$(BIN)/ruff check components policies tests bench platform .github/scripts scripts/golden scripts/mutate scripts/lock scripts/checkov-exports scripts/gen_terraform_types.py \
		.github/scripts/changed-stacks .github/scripts/check-environment .github/scripts/deploy-matrix
	CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov GATEWAY_PYTHON=$(CURDIR)/$(GATEWAY_VENV)/bin/python \
		LIFECYCLE_PYTHON=$(CURDIR)/$(LIFECYCLE_VENV)/bin/python \
		$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		$(foreach t,$(GATEWAY_TESTS) $(LIFECYCLE_TESTS) $(TRAINING_TESTS) $(WORKFLOW_TESTS),--ignore=$(t))

# The gateway against the real thing: the pinned LiteLLM proxy with our runtime, a throwaway
# Postgres and Redis, stub model servers, the quality monitor (about 90 s on two cores). Its
# own target, so `make test` stays well under five minutes; .ci/run and the README run both.
test-gateway: install test-tools
	GATEWAY_PYTHON=$(CURDIR)/$(GATEWAY_VENV)/bin/python LIFECYCLE_PYTHON=$(CURDIR)/$(LIFECYCLE_VENV)/bin/python \
		$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(GATEWAY_TESTS)

# The model-tools image's CLIs against the real thing: model_signing on generated model
# directories, the sync into moto's S3 from a local directory and a stub Hub, the eval gate and
# the refusal comparison against stub model servers, the pushes to a real Pushgateway (about
# 45 s on two cores). Its own target, like test-gateway, so `make test` stays under five
# minutes; .ci/run and the README run all three.
test-lifecycle: install test-tools
	LIFECYCLE_PYTHON=$(CURDIR)/$(LIFECYCLE_VENV)/bin/python \
		$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(LIFECYCLE_TESTS)

# The training Job's harness against the real thing: a PyTorch loop on CPU preempted by SIGTERM
# and resumed, its checkpoints in moto's S3, its interruptions on a real Pushgateway, its
# output published and signed (45 s of CPU; 80 s on two cores shared with other work,
# 2026-12-02). Its own target, like test-lifecycle. One file, so one process: workers would
# only import the suite again and wait.
test-training: install test-tools
	LIFECYCLE_PYTHON=$(CURDIR)/$(LIFECYCLE_VENV)/bin/python \
		$(BIN)/python -m pytest -p no:xdist $(TRAINING_TESTS)

# The deploy and pull-request workflows run job by job with our scripts and `llm-platform` for
# real (the pulumi CLI and GitHub's API stubbed): about 35 s of CPU, each case planning the
# stacks its legs touch. Its own target, like test-gateway, so `make test` stays under five
# minutes with the training tests (2026-12-02); .ci/run and the README run it.
test-workflows: install test-tools
	$(BIN)/python -m pytest -n 2 --dist loadfile $(WORKFLOW_TESTS)

# The cloud stacks' exports (out/<stack>/terraform-plan.json, arm-template.json) through Checkov
# with the skips they carry: counts per export and every failure (scripts/checkov-exports).
SCAN_STACKS ?= aws gcp hybrid azure
scan: $(VENV)/.test $(CHECKOV_VENV)/.installed
	@for s in $(SCAN_STACKS); do \
		$(BIN)/llm-platform plan --stack $$s --no-policy --out out/$$s \
			--export $$($(BIN)/llm-platform extras --stack $$s | grep -qw azure && echo arm || echo terraform-plan) \
			> /dev/null || exit 2; done
	CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(BIN)/python scripts/checkov-exports $(addprefix out/,$(SCAN_STACKS))

# Plan every stack, rewrite tests/golden/<stack>/ and print which files changed (+/- lines).
golden: $(VENV)/.test
	$(BIN)/python scripts/golden

bench: $(VENV)/.test $(GATEWAY_VENV)/.installed
	$(BIN)/python bench/policy.py
	$(BIN)/python bench/bench.py
	GATEWAY_PYTHON=$(CURDIR)/$(GATEWAY_VENV)/bin/python $(BIN)/python bench/gateway.py

# Fresh-clone install times and venv sizes with empty caches (downloads from PyPI).
bench-install:
	$(PYTHON) bench/install.py

# Mutation score per module of the pure code (mutation/groups.toml); MUTATE=sizing for one group.
mutate: $(VENV)/.test
	$(BIN)/python scripts/mutate $(MUTATE)

# The JSON Schemas in schema/ and the README's field reference, from the spec's model.
docs: $(VENV)/.test
	$(BIN)/python -m components.spec.docs

lint: $(VENV)/.test
	$(BIN)/ruff check components policies tests bench platform .github/scripts scripts/golden scripts/mutate scripts/lock scripts/checkov-exports scripts/gen_terraform_types.py \
		.github/scripts/changed-stacks .github/scripts/check-environment .github/scripts/deploy-matrix

clean:
	rm -rf out .pytest_cache .hypothesis build/mutate mutants
