"""The golden set of one stack: every file of a plan a reviewer reads, in a stable form.

`make golden` (scripts/golden) writes it under tests/golden/<stack>/; tests/test_plan.py only
compares. Nothing here reads the environment: no variable can turn a comparison into a write.
"""

from __future__ import annotations

import difflib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
# The export a scanner reads of a stack's cloud resources (`plan --export`, components/plan/
# terraform.py and arm.py); an on-prem stack has none.
EXPORT_OF_CLOUD = {"aws": "terraform-plan", "gcp": "terraform-plan", "azure": "arm"}
SKIPS_TF = "checkov/skips.tf"


def stack_spec(root: Path, stack: str) -> dict:
    doc = yaml.safe_load((root / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    return doc["config"]["llm-platform:spec"]


def export_args(spec: dict) -> list[str]:
    """The `--export` arguments of the plan of a stack whose spec is `spec`."""
    topology = spec.get("topology")
    cloud = topology if topology in EXPORT_OF_CLOUD else (spec.get("hybrid") or {}).get("cloud")
    return ["--export", EXPORT_OF_CLOUD[cloud]] if cloud in EXPORT_OF_CLOUD else []


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # "added", "removed" or "changed"
    plus: int
    minus: int

    def __str__(self) -> str:
        return f"{self.kind:8} {self.path} (+{self.plus} -{self.minus})"


def render(out: Path) -> dict[str, str]:
    """Relative path -> text, for the plan written to `out` by `llm-platform plan --out`."""
    files = {f"manifests/{p.name}": p.read_text() for p in sorted((out / "manifests").glob("*.yaml"))}
    files["cost.json"] = (out / "cost.json").read_text()
    files["alertmanager.yaml"] = (out / "alertmanager.yaml").read_text()
    # The checks skipped, with why, on the Terraform export: a new skip is seen in review.
    if (out / SKIPS_TF).exists():
        files[SKIPS_TF] = (out / SKIPS_TF).read_text()
    plan = json.loads((out / "plan.json").read_text())
    files["plan.json"] = json.dumps(plan, indent=2, sort_keys=True) + "\n"
    for r in plan["resources"]:
        if r["type"] == HELM_RELEASE:
            path = f"helm/{r['inputs']['name']}.yaml"
            assert path not in files, f"two Helm releases named {r['inputs']['name']}"
            files[path] = _helm_values(r["inputs"])
    return files


def _helm_values(inputs: dict) -> str:
    """The release's values as the chart receives them, headed by what they configure."""
    repo = inputs.get("repositoryOpts", {}).get("repo", "")
    head = (f"# Helm release {inputs['name']} in namespace {inputs.get('namespace', 'default')}: "
            f"chart {inputs['chart']} {inputs.get('version', '')} {repo}").rstrip()
    return head + "\n" + yaml.safe_dump(inputs.get("values", {}), sort_keys=True)


def read(golden: Path) -> dict[str, str]:
    return {f.relative_to(golden).as_posix(): f.read_text()
            for f in sorted(golden.rglob("*")) if f.is_file()}


def changes(current: dict[str, str], expected: dict[str, str]) -> list[Change]:
    """What turns `expected` (the golden files) into `current` (a fresh plan), by path."""
    out = []
    for path in sorted(current.keys() | expected.keys()):
        new, old = current.get(path), expected.get(path)
        if new == old:
            continue
        diff = list(difflib.unified_diff((old or "").splitlines(), (new or "").splitlines(),
                                         lineterm="", n=0))
        plus = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
        minus = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
        kind = "added" if old is None else "removed" if new is None else "changed"
        out.append(Change(path, kind, plus, minus))
    return out


def write(current: dict[str, str], golden: Path) -> list[Change]:
    """Replace `golden` with `current`; returns what changed."""
    found = changes(current, read(golden) if golden.is_dir() else {})
    if found:
        shutil.rmtree(golden, ignore_errors=True)
        for rel, text in current.items():
            (golden / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden / rel).write_text(text)
    return found
