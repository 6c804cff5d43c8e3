"""`make bench`: wall time and peak memory of `llm-platform plan` (policy pack included).

Each example stack in stacks/, then generated stacks of 10, 50 and 100 models to show how
the cost grows. Every run is a fresh process (as a user runs it); wall time is the median
of three runs and peak memory is the child's max RSS from wait4.
"""

from __future__ import annotations

import copy
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from components.cli import main; main()"]
RUNS = 3


def measure(project: Path, stack: str, out: Path) -> tuple[float, float]:
    walls, peaks = [], []
    for _ in range(RUNS):
        start = time.perf_counter()
        proc = subprocess.Popen(
            [
                *CLI,
                "plan",
                "--stack",
                stack,
                "--project",
                str(project),
                "--out",
                str(out),
                "--json",
                "--policy-pack",
                str(ROOT / "policies"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        walls.append(time.perf_counter() - start)
        peaks.append(usage.ru_maxrss / 1024)
        if proc.returncode != 0:
            raise SystemExit(f"plan --stack {stack} failed with exit {proc.returncode}")
    return statistics.median(walls), max(peaks)


def generated(models: int) -> dict:
    spec = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())["config"][
        "llm-platform:spec"
    ]
    spec = copy.deepcopy(spec)
    spec["environment"] = spec["tags"]["environment"] = f"bench-{models}"
    spec["budget"]["monthly_usd"] = 10_000_000
    spec["gpu_pools"][0].update(gpus_per_node=8, max_nodes=1000)
    template = spec["models"][0]
    spec["models"] = [{**copy.deepcopy(template), "name": f"model-{i:03d}"} for i in range(models)]
    return spec


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        shutil.copy(ROOT / "Pulumi.yaml", scratch / "Pulumi.yaml")
        shutil.copytree(ROOT / "platform", scratch / "platform")
        shutil.copytree(ROOT / "stacks", scratch / "stacks")
        for n in (10, 50, 100):
            (scratch / "stacks" / f"Pulumi.bench-{n}.yaml").write_text(
                yaml.safe_dump({"config": {"llm-platform:spec": generated(n)}})
            )
        stacks = sorted(p.name[7:-5] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
        for stack in [*stacks, "bench-10", "bench-50", "bench-100"]:
            wall, peak = measure(scratch, stack, scratch / "out" / stack)
            resources = len(
                yaml.safe_load((scratch / "out" / stack / "plan.json").read_text())["resources"]
            )
            rows.append((stack, resources, wall, peak))
            print(
                f"{stack:<14} {resources:>5} resources  {wall:6.2f} s  {peak:7.1f} MiB peak",
                flush=True,
            )
    gen = {name: (res, wall) for name, res, wall, _ in rows if name.startswith("bench-")}
    (r10, w10), (r100, w100) = gen["bench-10"], gen["bench-100"]
    per_resource_ms = (w100 - w10) / (r100 - r10) * 1000
    print(
        f"marginal cost: {per_resource_ms:.2f} ms per resource "
        f"({per_resource_ms * (r100 - r10) / 90:.0f} ms per model) between 10 and 100 models"
    )


if __name__ == "__main__":
    main()
