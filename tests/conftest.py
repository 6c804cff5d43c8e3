"""Shared fixtures: the example stacks planned once per session through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

# CI reruns the same examples every time, so a submission's verdict does not depend on a
# draw; local runs (and LLM_PLATFORM_FUZZ=slow) keep drawing new ones to find new bugs.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") and os.environ.get("LLM_PLATFORM_FUZZ") != "slow":
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
CLI = [sys.executable, "-c", "from components.cli import main; main()"]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def stack_spec(stack: str) -> dict:
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    return doc["config"]["llm-platform:spec"]


class Planned:
    def __init__(self, stack: str, out: Path, summary: dict):
        self.stack = stack
        self.out = out
        self.summary = summary
        self.plan = json.loads((out / "plan.json").read_text())
        self.cost = json.loads((out / "cost.json").read_text())
        self.manifest_paths = sorted((out / "manifests").glob("*.yaml"))
        self.manifests = [yaml.safe_load(p.read_text()) for p in self.manifest_paths]

    def resources(self, type_: str) -> list[dict]:
        return [r for r in self.plan["resources"] if r["type"] == type_]

    def one(self, type_: str, name: str) -> dict:
        found = [r for r in self.resources(type_) if r["name"] == name]
        assert len(found) == 1, f"{type_} {name}: {len(found)} found"
        return found[0]


@pytest.fixture(scope="session")
def planned(tmp_path_factory) -> dict[str, Planned]:
    out = {}
    for stack in STACKS:
        target = tmp_path_factory.mktemp(f"plan-{stack}")
        proc = run_cli("plan", "--stack", stack, "--out", str(target), "--json")
        assert proc.returncode == 0, proc.stderr
        out[stack] = Planned(stack, target, json.loads(proc.stdout))
    return out


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
