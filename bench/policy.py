"""`make bench`: how long the policy pack takes over the largest example stack.

The graph is recorded once under the mock engine; each run then does what the engine does
in `pulumi preview --policy-pack`: start the pack process, Configure, Analyze every
resource and AnalyzeStack. Median and worst of five runs, split into start-up and analysis.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.plan.policy import Analyzer  # noqa: E402
from components.plan.report import as_analyzed  # noqa: E402
from components.plan.runner import run_program  # noqa: E402

RUNS = 5


def spec_of(stack: str) -> dict:
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    return doc["config"]["llm-platform:spec"]


def main() -> None:
    stacks = sorted(p.name[7:-5] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    graphs = {s: as_analyzed(run_program(s, spec_of(s), ROOT)) for s in stacks}
    stack = max(graphs, key=lambda s: len(graphs[s]))
    resources = graphs[stack]
    starts, analyses, totals = [], [], []
    for _ in range(RUNS):
        began = time.perf_counter()
        with Analyzer(ROOT / "policies") as pack:
            pack.info()  # waits for the pack to start and listen
            started = time.perf_counter()
            pack.configure({})
            violations = pack.review(resources)
            done = time.perf_counter()
        starts.append(started - began)
        analyses.append(done - started)
        totals.append(done - began)
    mandatory = sum(v.enforcement == "mandatory" for v in violations)
    print(
        f"policy pack over {stack} ({len(resources)} resources, {len(resources)} Analyze "
        f"calls + 1 AnalyzeStack): median {statistics.median(totals):.2f} s "
        f"(start {statistics.median(starts):.2f} s, analysis "
        f"{statistics.median(analyses):.2f} s), worst {max(totals):.2f} s of {RUNS}; "
        f"{len(violations)} violations, {mandatory} mandatory"
    )


if __name__ == "__main__":
    main()
