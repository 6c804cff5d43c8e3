"""Plan time of this checkout against an earlier revision, runs alternated so both see the
same machine load (a sequential `make bench` of each drifts with the load).

    python bench/compare.py 59827b9            # every stack both revisions have, 3 runs each
    N=7 STACKS="azure gcp" python bench/compare.py 59827b9

Each run is `llm-platform plan --stack S --json --no-policy` in a fresh process; the table
gives the median wall time and the peak RSS per side.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = "from components.cli import main; main()"


def run(tree: Path, stack: str, out: Path) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CODE, "plan", "--stack", stack, "--out", str(out), "--json",
         "--no-policy"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{tree}: plan --stack {stack} failed: {proc.stderr.read()[-400:]!r}")
    return wall, usage.ru_maxrss / 1024


def stacks(tree: Path) -> set[str]:
    return {p.name[len("Pulumi."):-len(".yaml")] for p in (tree / "stacks").glob("Pulumi.*.yaml")}


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python bench/compare.py <git revision>")
    runs = int(os.environ.get("N", "3"))
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(before), sys.argv[1]],
                       cwd=ROOT, check=True)
        try:
            chosen = os.environ.get("STACKS", "").split() or sorted(stacks(before) & stacks(ROOT))
            print(f"{sys.argv[1]} vs this checkout, {runs} alternated runs each, "
                  f"load {os.getloadavg()[0]:.1f}")
            print("| stack | before s | after s | before MiB | after MiB |\n|---|---|---|---|---|")
            for stack in chosen:
                res: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
                for i in range(runs):
                    for side, tree in (("before", before), ("after", ROOT)):
                        res[side].append(run(tree, stack, Path(tmp) / f"{side}-{stack}-{i}"))
                b, a = res["before"], res["after"]
                print(f"| {stack} | {statistics.median(w for w, _ in b):.2f} | "
                      f"{statistics.median(w for w, _ in a):.2f} | {max(m for _, m in b):.0f} | "
                      f"{max(m for _, m in a):.0f} |", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT)


if __name__ == "__main__":
    main()
