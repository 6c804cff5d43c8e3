"""Scanner checks that do not fit a resource this platform creates, each with its reason.

A cloud package fixes what an IaC scanner (Checkov) finds in its resources; where a check
does not fit (cross-region replication of re-downloadable weights, a Lambda in a VPC that
calls only AWS APIs), the package lists a `Skip` in its `scanner.py` beside the component
that makes the resource. The exports carry each skip in the form the scanner reads, so a
user's own Checkov run honours the same list with the same reasons:
- the Terraform plan (`plan --export terraform-plan`): `checkov/skips.tf`, one empty resource
  block per skipped resource with `# checkov:skip=<id>:<reason>` lines, read through
  Checkov's `--repo-root-for-plan-enrichment` (checkov 3.3.30 common/runners/
  runner_registry.py `get_enriched_resources`, common/output/report.py
  `handle_skipped_checks`, which matches on the plan address);
- the ARM template (`plan --export arm`): the resource's `metadata.checkov` list of
  `<id>:<reason>` (checkov/arm/context_parser.py `collect_skip_comments`).
Pure: no Pulumi import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CHECK_ID = re.compile(r"CKV2?_[A-Z0-9]+_\d+")
# Shorter than this is a label, not a reason a reviewer can weigh.
MIN_REASON = 40
SKIPS_DIR = "checkov"
SKIPS_FILE = "skips.tf"


@dataclass(frozen=True)
class Skip:
    """Check `check` does not fit the resources of Pulumi type `type` whose logical name ends
    with `role` (the part after the component's `<stack>-<cloud>-` base), because `reason`."""

    type: str
    role: str
    check: str
    reason: str

    def applies(self, type_: str, name: str) -> bool:
        return type_ == self.type and name.endswith(self.role)


def problems(skips: Iterable[Skip]) -> list[str]:
    """What is wrong with a skip list, one line each: a check id Checkov does not spell so,
    a missing or one-word reason, a reason a comment line cannot hold, a skip listed twice."""
    out: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for s in skips:
        where = f"{s.type} '*{s.role}' {s.check}"
        if not CHECK_ID.fullmatch(s.check):
            out.append(f"{where}: not a Checkov check id (CKV_<AREA>_<n> or CKV2_<AREA>_<n>)")
        if len(s.reason.strip()) < MIN_REASON:
            out.append(f"{where}: the reason must say why, in at least {MIN_REASON} characters")
        if "\n" in s.reason:
            out.append(f"{where}: the reason must be one line (it becomes a comment)")
        key = (s.type, s.role, s.check)
        if key in seen:
            out.append(f"{where}: listed twice")
        seen.add(key)
    return out


def matching(type_: str, name: str, skips: Iterable[Skip]) -> list[Skip]:
    return [s for s in skips if s.applies(type_, name)]


def hcl(entries: Iterable[Mapping[str, str]]) -> str:
    """The enrichment file of an export's skips ({address, check, reason} each): per
    Terraform address `<type>.<name>`, an empty resource block holding the skip comments,
    which is all Checkov reads of it."""
    by_address: dict[str, list[str]] = {}
    for e in entries:
        by_address.setdefault(e["address"], []).append(
            f"  # checkov:skip={e['check']}:{e['reason']}")
    blocks = []
    for address, comments in sorted(by_address.items()):
        tf_type, name = address.split(".", 1)
        blocks.append("\n".join([f'resource "{tf_type}" "{name}" {{', *comments, "}"]))
    head = (
        "# Checks skipped on purpose, with why; written by `llm-platform plan --export "
        "terraform-plan`.\n# Read with: checkov -f terraform-plan.json --framework "
        "terraform_plan --repo-root-for-plan-enrichment checkov\n"
    )
    return head + "\n\n".join(blocks) + "\n"


def arm_comments(skips: Iterable[Skip]) -> list[str]:
    return [f"{s.check}:{s.reason}" for s in skips]
