"""Markdown for the pull-request comment: the policy verdict, the cost estimate, the golden
files of the stack the change rewrote (against git ref $BASE_REF, when set) and the
`pulumi preview` output (from $PREVIEW, when the repository has credentials). When the plan
wrote no verdict (an invalid stack config), the comment quotes the plan's output instead.

usage: review-comment.py <stack> <plan output dir> [<plan log>]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# GitHub refuses comments over 65,536 characters; the preview is cut to fit.
MAX_PREVIEW = 50_000
BIGGEST = 8
MAX_GOLDEN = 40
GIT_STATUS = {"A": "added", "M": "changed", "D": "removed", "T": "changed"}


def golden_changes(stack: str, base: str) -> list[str]:
    """Markdown lines naming the files under tests/golden/<stack>/ that differ between the
    merge base with `base` and HEAD: the rendered output a reviewer accepts with the change."""
    folder = f"tests/golden/{stack}/"
    proc = subprocess.run(
        ["git", "diff", "--name-status", "--no-renames", f"{base}...HEAD", "--", folder],
        capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"review-comment: git diff against {base} failed: {proc.stderr.strip()}")
    rows = [line.split("\t", 1) for line in proc.stdout.splitlines() if line]
    if not rows:
        return ["", f"**Golden files**: none changed under `{folder}`."]
    lines = ["", f"**Golden files**: {len(rows)} changed under `{folder}` by this pull request "
                 "(`make golden` wrote them; the diff is the rendered output to review):", ""]
    for status, path in rows[:MAX_GOLDEN]:
        lines.append(f"- {GIT_STATUS.get(status, status)} `{path.removeprefix(folder)}`")
    if len(rows) > MAX_GOLDEN:
        lines.append(f"- and {len(rows) - MAX_GOLDEN} more")
    return lines


def main(stack: str, out: Path, log: Path | None = None) -> str:
    if not (out / "policy.json").exists():
        text = log.read_text()[-MAX_PREVIEW:] if log and log.exists() else "(no output)"
        return f"### llm-platform: `{stack}`\n\nThe plan failed:\n\n```\n{text}\n```\n"
    cost = json.loads((out / "cost.json").read_text())
    verdict = json.loads((out / "policy.json").read_text())
    counts = verdict["counts"]
    mark = "passed" if verdict["passed"] else "**failed**"
    lines = [
        f"### llm-platform: `{stack}`",
        "",
        f"**Policy** ({verdict['pack']}, {len(verdict['policies'])} policies): {mark}, "
        f"{counts['mandatory']} mandatory and {counts['advisory']} advisory violations.",
    ]
    for v in verdict["violations"]:
        lines.append(
            f"- `{v['enforcement']}` **{v['policy']}** on `{v['resource']}`: {v['detail']}"
        )
    lines += [
        "",
        f"**Estimated cost**: ${cost['monthly_usd']:,.2f}/month, "
        f"{cost['budget_used_pct']}% of the ${cost['budget_monthly_usd']:,.0f} budget.",
        "",
        "| resource | basis | USD/month |",
        "| --- | --- | ---: |",
    ]
    biggest = sorted(cost["resources"], key=lambda i: i["monthly_usd"], reverse=True)
    for item in biggest[:BIGGEST]:
        basis = item["basis"].split(" (", 1)[0]
        lines.append(f"| `{item['name']}` | {basis} | {item['monthly_usd']:,.2f} |")
    if len(biggest) > BIGGEST:
        rest = sum(i["monthly_usd"] for i in biggest[BIGGEST:])
        lines.append(f"| {len(biggest) - BIGGEST} more | | {rest:,.2f} |")
    if os.environ.get("BASE_REF"):
        lines += golden_changes(stack, os.environ["BASE_REF"])
    preview = os.environ.get("PREVIEW", "").strip()
    if preview:
        cut = preview[-MAX_PREVIEW:]
        lines += [
            "",
            "<details><summary>pulumi preview</summary>",
            "",
            "```",
            cut,
            "```",
            "</details>",
        ]
    else:
        lines += [
            "",
            "_No `pulumi preview`: the repository has no PULUMI_ACCESS_TOKEN; the "
            "figures above are from the offline plan._",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(
        main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None),
        end="",
    )
