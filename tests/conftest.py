"""Shared fixtures: the example stacks planned once per run through the real CLI."""

from __future__ import annotations

import fcntl
import functools
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import golden_files
import pytest
import yaml
from hypothesis import settings

# CI reruns the same examples every time, so a submission's verdict does not depend on a
# draw: Hypothesis's own "ci" profile (derandomize, no deadline, no example database). Local
# runs (and LLM_PLATFORM_FUZZ=slow) keep drawing new ones to find new bugs. Either way a
# failure prints the @reproduce_failure blob that replays it.
settings.register_profile("local", print_blob=True)
settings.load_profile(
    "ci" if os.environ.get("CI") and os.environ.get("LLM_PLATFORM_FUZZ") != "slow" else "local")


def pytest_configure(config: pytest.Config) -> None:
    # The suite only compares with tests/golden; `make golden` is the one way to rewrite it, so
    # a variable meant to bless a changed output stops the run instead of passing it.
    named = sorted(k for k in os.environ if "GOLDEN" in k.upper())
    if named:
        raise pytest.UsageError(
            f"{', '.join(named)} is set, but the tests never rewrite golden files: "
            "unset it and run `make golden` to accept a change to the rendered output")

# The files that take longest (seconds of test time on two workers, `pytest --durations=0`,
# 2026-12-02), handed out first: `make test` gives each worker whole files in collection
# order (--dist loadfile --no-loadscope-reorder), and a long file picked up last leaves the
# other core idle until it ends. The rest keep their order.
SLOW_FIRST = (  # seconds of each file under `make test` (2026-12-02)
    "test_policies.py",  # 93 s: the first plans of the example stacks, the pack over gRPC
    "test_plan.py",  # 97 s: Checkov over every stack
    "test_names.py",  # 42 s
    "test_terraform_export.py",  # 38 s: Checkov over the exports
    "test_plan_output.py",  # 35 s: whole plans interrupted and failed
    "test_quality.py",  # 35 s: the embedding model
    "test_arm_export.py",  # 27 s
    "test_cli_input.py",  # 26 s
    "test_policy_branches.py",  # 20 s
    "test_training_trigger.py",  # 18 s
    "test_budget_enforcer.py",  # 18 s
    "test_fuzz_stacks.py",  # 17 s
    "test_engines.py",  # 15 s
    "test_training_objects.py",  # 14 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))

ROOT = Path(__file__).resolve().parent.parent
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
CLI = [sys.executable, "-c", "from components.cli import main; main()"]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@functools.cache
def checkov_exports_script() -> types.ModuleType:
    """scripts/checkov-exports (a script, not a module) loaded for its functions."""
    loader = importlib.machinery.SourceFileLoader(
        "checkov_exports", str(ROOT / "scripts" / "checkov-exports"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def stack_spec(stack: str) -> dict:
    return golden_files.stack_spec(ROOT, stack)


class Planned:
    def __init__(self, stack: str, out: Path, summary: dict):
        self.stack = stack
        self.out = out
        self.summary = summary
        self.plan = json.loads((out / "plan.json").read_text())
        self.cost = json.loads((out / "cost.json").read_text())
        self.manifest_paths = sorted((out / "manifests").glob("*.yaml"))
        # libyaml's loader: every worker reads every stack's manifests.
        self.manifests = [yaml.load(p.read_text(), Loader=yaml.CSafeLoader)
                          for p in self.manifest_paths]

    def resources(self, type_: str) -> list[dict]:
        return [r for r in self.plan["resources"] if r["type"] == type_]

    def one(self, type_: str, name: str) -> dict:
        found = [r for r in self.resources(type_) if r["name"] == name]
        assert len(found) == 1, f"{type_} {name}: {len(found)} found"
        return found[0]


class PlannedStacks(Mapping[str, Planned]):
    """Every example stack, planned on first use and once per run: the xdist workers share
    `root`, and a lock per stack lets one worker plan aws while another plans gcp."""

    def __init__(self, root: Path):
        self.root = root
        self._loaded: dict[str, Planned] = {}

    def __getitem__(self, stack: str) -> Planned:
        if stack not in STACKS:
            raise KeyError(stack)
        if stack not in self._loaded:
            # While another worker plans this stack, plan one nobody has started rather than
            # wait; wait only when none is left.
            while not self._plan(stack, wait=False):
                if not any(self._plan(other, wait=False) for other in STACKS
                           if not (self.root / f"{other}.json").exists()):
                    self._plan(stack, wait=True)
                    break
            summary = json.loads((self.root / f"{stack}.json").read_text())
            self._loaded[stack] = Planned(stack, self.root / stack, summary)
        return self._loaded[stack]

    def __iter__(self) -> Iterator[str]:
        return iter(STACKS)

    def __len__(self) -> int:
        return len(STACKS)

    def _plan(self, stack: str, wait: bool) -> bool:
        """Plan `stack` into root/<stack> unless a worker already has; False, without
        waiting, when another worker is planning it and `wait` is False."""
        out, summary = self.root / stack, self.root / f"{stack}.json"
        with (self.root / f"{stack}.lock").open("w") as lock:
            try:  # the lock goes with the file, when it closes
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                return False
            if not summary.exists():
                shutil.rmtree(out, ignore_errors=True)  # what a failed attempt left
                proc = run_cli("plan", "--stack", stack, "--out", str(out), "--json",
                               *golden_files.export_args(stack_spec(stack)))
                assert proc.returncode == 0, f"plan of {stack} failed:\n{proc.stderr}"
                summary.write_text(proc.stdout)
        return True


@pytest.fixture(scope="session")
def planned(tmp_path_factory: pytest.TempPathFactory) -> PlannedStacks:
    # Under xdist each worker's basetemp is <run's basetemp>/popen-gwN; the parent is the run's.
    # (The variable, not xdist's worker_id fixture: mutmut runs the tests with -p no:xdist.)
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "planned"
    root.mkdir(exist_ok=True)
    return PlannedStacks(root)


def copy_project(root: Path) -> Path:
    """The project's program, pack and an empty stacks/ under `root`, for stacks a test writes."""
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(ROOT / "platform", root / "platform")
    shutil.copytree(ROOT / "policies", root / "policies",
                    ignore=shutil.ignore_patterns("__pycache__", "config"))
    (root / "stacks").mkdir()
    return root


@pytest.fixture
def scratch_project(tmp_path) -> Path:
    return copy_project(tmp_path)


def write_stack(project: Path, name: str, spec: dict) -> None:
    (project / "stacks" / f"Pulumi.{name}.yaml").write_text(
        yaml.safe_dump({"config": {"llm-platform:spec": spec}}))


@contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A local HTTP server for an external API a script calls (GitHub's, in the workflow
    tests): yields its base URL, and stops it after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
