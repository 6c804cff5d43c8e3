"""Markdown for a stack's pull-request review (the sticky comment of a same-repository pull
request, the job summary of a fork's): the policy verdict and the cost estimate of the offline
plan, the golden files of the stack the change rewrote, and the `pulumi preview` output or the
reason there is none.

The preview comes from a file (the workflow tees `pulumi preview` into it): through an
environment variable a text over 128 KiB stops the process before it starts ("Argument list
too long"). The text is cut from the front to fit GitHub's comment limit, so the resource
summary and the diagnostics at its end stay. When the preview failed, its diagnostics and
policy violations are quoted outside the collapsed output. When the plan wrote no verdict (an
invalid stack config), the comment quotes the end of the plan's output in its place.

With --checkov, the counts of Checkov over the stack's cloud exports (the JSON that
`scripts/checkov-exports --json` writes): passed, failed and skipped per export, then the
failed checks by check id and resource, as many as fit the section's share of the comment (the
job's log lists them all). A report that is missing or unreadable is said to be so: the scan
did not run, which is not the same as a scan that found nothing.

usage: review-comment.py <stack> <plan output dir> [--plan-log F] [--base REF] [--checkov F]
                         [--preview F --preview-exit N | --reason R [--detail TEXT]]
  --base REF     list the golden files changed between the merge base with REF and HEAD
  --checkov F    the counts scripts/checkov-exports wrote (--json F); a missing F is "not run"
  --reason R     why there is no preview: no-org, fork, no-stack, refused or setup-failed
  --detail TEXT  for no-stack the stack's name in the backend (<org>/<stack>), for refused
                 the deploy's refusal (llm-platform ci-targets)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

# GitHub refuses a comment body over 65,536 characters ("Body is too long (maximum is 65536
# characters)"); the sticky-comment action adds its header marker to the body, and a character
# outside the BMP may count twice, so the body is measured in UTF-16 units with room to spare.
MAX_COMMENT = 64_000
# The diagnostics quoted above the collapsed output take at most this share of the room left.
MAX_DIAGNOSTICS = 12_000
# A failed plan's output, quoted instead of its verdict, leaves the rest of the room to the
# preview, which may tell more.
MAX_PLAN_LOG = 16_000
BIGGEST = 8
# The Checkov section comes before the preview and takes at most this much of the comment, so
# a stack with hundreds of findings still leaves the preview its room; the failed checks past
# it (or past MAX_CHECKOV_FAILURES) are counted, and the scan step's log lists every one.
MAX_CHECKOV = 8_000
MAX_CHECKOV_FAILURES = 30
# Characters that Markdown would read as emphasis, a link, HTML or a table cell in a check's
# name (CKV_AWS_355's says `allow "*" as a statement's resource`).
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
MAX_GOLDEN = 40
GIT_STATUS = {"A": "added", "M": "changed", "D": "removed", "T": "changed"}
# `pulumi preview` ends with unindented section headers; these carry a failure's causes.
FAILURE_SECTIONS = re.compile(r"^(Diagnostics|Policies|Policy Violations):\s*$")
# Why a stack has no preview; {stack} and {detail} are filled in.
REASONS = {
    "no-org": "the repository variable `PULUMI_ORGANIZATION` is not set, so the workflow "
              "does not log in to a Pulumi backend",
    "fork": "this pull request comes from a fork, and fork pull requests get no credentials "
            "(neither the Pulumi login nor the cloud roles): their code must not run with "
            "this repository's access",
    "no-stack": "stack `{detail}` does not exist in the Pulumi backend yet; the deploy of the "
                "first merged change that touches `{stack}` creates it",
    "refused": "CI cannot reach the cluster of `{stack}`: {detail}",
    "setup-failed": "a step it needs failed (the Pulumi login, the cloud login or the CLI's "
                    "install; the job's log says which)",
}


def units(text: str) -> int:
    """The length of `text` as GitHub counts it at most: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def tail(text: str, limit: int) -> str:
    """The end of `text` in at most `limit` UTF-16 units, from a line start when it was cut."""
    total = 0
    for i in range(len(text) - 1, -1, -1):
        total += 2 if ord(text[i]) > 0xFFFF else 1
        if total > limit:
            cut = text[i + 1:]
            return cut.split("\n", 1)[1] if "\n" in cut else cut
    return text


def fenced(text: str) -> list[str]:
    """`text` in a code block whose fence no run of backticks inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text.rstrip("\n"), fence]


def inline_code(text: str) -> str:
    """`text` as an inline code span that no backtick inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{tick}{pad}{text}{pad}{tick}"


def failure_sections(text: str) -> str:
    """The Diagnostics and Policies sections of a `pulumi preview` output, or its last lines
    when it has neither (it stopped before its summary)."""
    found: list[str] = []
    keep = False
    for line in text.splitlines():
        if line and not line[0].isspace():
            keep = bool(FAILURE_SECTIONS.match(line))
        if keep:
            found.append(line)
    return "\n".join(found) if found else "\n".join(text.splitlines()[-20:])


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


def plan_lines(stack: str, out: Path) -> list[str]:
    """The verdict, its violations and the biggest costs of the offline plan in `out`."""
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
    return lines


def read_checkov(report: Path) -> tuple[dict[str, dict] | None, str]:
    """The per-export counts of a scripts/checkov-exports report, or None and why not."""
    try:
        results = json.loads(report.read_text())
        well_formed = isinstance(results, dict) and all(
            all(isinstance(r[k], int) for k in ("passed", "failed", "skipped"))
            and all(isinstance(f["check"], str) and isinstance(f["resource"], str)
                    for f in r["failures"])
            for r in results.values())
    except FileNotFoundError:
        return None, "scripts/checkov-exports wrote no report"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"its report is unreadable ({type(exc).__name__})"
    if not well_formed:
        return None, "its report is unreadable (not the counts of scripts/checkov-exports)"
    if not results:
        return None, "its report names no export"
    return results, ""


def checkov_lines(report: Path) -> list[str]:
    """Checkov's counts per export and its failed checks, in at most MAX_CHECKOV units."""
    results, why = read_checkov(report)
    if results is None:
        return ["", f"**Checkov** over the cloud exports: **not run** ({why}; the scan step's "
                    "log says why). The exports are unchecked, not clean."]
    failed = sum(r["failed"] for r in results.values())
    mark = (f"**{failed} failed check{'s' * (failed != 1)}**" if failed
            else "passed, no failed check")
    lines = ["", f"**Checkov** over the cloud exports (with the skips they carry): {mark}.", "",
             "| export | passed | failed | skipped |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {inline_code(key)} | {r['passed']} | {r['failed']} | {r['skipped']} |"
              for key, r in results.items()]
    failures = [(key, f) for key, r in results.items() for f in r["failures"]]
    if failures:
        lines.append("")
    listed = 0
    for key, f in failures[:MAX_CHECKOV_FAILURES]:
        where = f" in {inline_code(key)}" if len(results) > 1 else ""
        name = MARKDOWN_SPECIAL.sub(r"\\\1", str(f.get("name", "")))
        line = f"- {inline_code(f['check'])} on {inline_code(f['resource'])}{where}: {name}"
        if units("\n".join([*lines, line])) > MAX_CHECKOV - 100:
            break
        lines.append(line)
        listed += 1
    if listed < len(failures):
        lines.append(f"- and {len(failures) - listed} more failed checks (the scan step's log "
                     "lists every one)")
    return lines


def preview_lines(text: str, code: int, room: int) -> list[str]:
    """The preview in at most `room` UTF-16 units: on failure its diagnostics first, then the
    whole output, cut from the front, in a collapsed block."""
    lines: list[str] = []
    if code != 0:
        causes = tail(failure_sections(text), min(MAX_DIAGNOSTICS, room // 3))
        lines += ["", f"**`pulumi preview` failed** (exit code {code}):", "", *fenced(causes)]
    used = units("\n".join(lines)) + 200
    body = tail(text, max(room - used, 0))
    cut = "" if body == text else f", the last {units(body):,} of {units(text):,} characters"
    return lines + ["", f"<details><summary>pulumi preview{cut}</summary>", "",
                    *fenced(body or "(no output)"), "</details>"]


def failed_plan_lines(stack: str, log: Path | None) -> list[str]:
    """The end of the plan's output, for a plan that wrote no verdict."""
    text = log.read_text(errors="replace") if log else ""
    return [f"### llm-platform: `{stack}`", "", "The plan failed:", "",
            *fenced(tail(text, MAX_PLAN_LOG) or "(no output)")]


def comment(stack: str, out: Path, args: argparse.Namespace) -> str:
    planned = (out / "policy.json").exists()
    lines = plan_lines(stack, out) if planned else failed_plan_lines(stack, args.plan_log)
    if args.checkov:
        lines += checkov_lines(args.checkov)
    if args.base:
        lines += golden_changes(stack, args.base)
    if args.preview:
        text = args.preview.read_bytes().decode("utf-8", errors="replace")
        lines += preview_lines(text, args.preview_exit, MAX_COMMENT - units("\n".join(lines)))
    else:
        why = REASONS[args.reason].format(stack=stack, detail=args.detail or stack)
        figures = " The figures above are from the offline plan." if planned else ""
        lines += ["", f"_No `pulumi preview`: {why}.{figures}_"]
    return "\n".join(lines) + "\n"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="review-comment.py")
    parser.add_argument("stack")
    parser.add_argument("out", type=Path, help="the plan's output directory")
    parser.add_argument("--plan-log", type=Path)
    parser.add_argument("--base")
    # Not checked for existence: a missing report is the news that the scan did not run.
    parser.add_argument("--checkov", type=Path)
    parser.add_argument("--preview", type=Path)
    parser.add_argument("--preview-exit", type=int, default=0)
    parser.add_argument("--reason", choices=sorted(REASONS))
    parser.add_argument("--detail", default="")
    args = parser.parse_args(argv)
    if (args.preview is None) == (args.reason is None):
        parser.error("give either --preview or --reason")
    for path in (args.preview, args.plan_log):
        if path is not None and not path.is_file():
            parser.error(f"{path}: no such file")
    return args


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    print(comment(arguments.stack, arguments.out, arguments), end="")
