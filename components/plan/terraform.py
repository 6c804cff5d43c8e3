"""The plan's aws and gcp resources as a Terraform JSON plan, the shape Checkov's
`terraform_plan` framework (and other IaC scanners) read. Pure: no Pulumi import.

pulumi-aws and pulumi-gcp are bridged from the Terraform providers, so each resource has a
Terraform twin: the type and the property names come from components/catalog/
terraform_types.yaml (generated from the providers' bridge metadata by
scripts/gen_terraform_types.py), never from guesses here. Resources with no twin
(kubernetes:*, our components, provider instances) are listed in `skipped`; a cloud type the
map lacks is listed in `unmapped`, never translated by rule of thumb.

What Checkov reads (research/checkov_terraform_plan.md on branch i19-tfmap, checkov 3.3.30
terraform/plan_parser.py): `planned_values.root_module.resources[]` with mode/type/name/
address/values, `resource_changes[].change.before/after/actions`, and
`configuration.root_module.resources[].expressions.<attr>.references`, matched by type and
name. A reference becomes a graph edge only where the attribute's value is absent or null
(plan_parser.py:480-497), which is how `terraform plan` writes a value not known until the
target exists: so a linked attribute is written null, with its reference.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from components import scan
from components.catalog import yaml_file
from components.clouds import scanner_skips

TYPES_FILE = Path(__file__).resolve().parent.parent / "catalog" / "terraform_types.yaml"
FILE_NAME = "terraform-plan.json"
# Checkov takes a file as a plan only with a truthy terraform_version (plan_utils.py:42,
# context_parsers/tf_plan/__init__.py:29-37); format_version is Terraform's current one.
TERRAFORM_VERSION = "1.9.0"
FORMAT_VERSION = "1.2"
# Pulumi inputs that are Terraform maps (their keys are data, not attributes), as the
# generator treats them (scripts/gen_terraform_types.py `walk`).
MAPS = frozenset(
    {"tags", "labels", "resourceLabels", "userLabels", "variables", "metadata", "archive",
     "dimensions"}
)
# Why a resource without a Terraform twin is left out, by type prefix.
NO_TWIN = {
    "kubernetes:": "Kubernetes object: scanned as a manifest (Checkov kubernetes framework)",
    "pulumi:providers:": "provider instance: Terraform keeps provider settings out of resources",
}
COMPONENT = "component resource: groups cloud resources, creates no cloud object"
PROVIDERS = {
    "aws:": "registry.terraform.io/hashicorp/aws",
    "gcp:": "registry.terraform.io/hashicorp/google",
}


class Record(Protocol):
    """What the export reads of a recorded resource (components/plan/runner.Recorded)."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    property_dependencies: dict[str, list[str]]


@cache
def types() -> dict[str, dict[str, Any]]:
    """Pulumi token -> its entry in the type map (terraform_type, inputs_used, sources)."""
    return yaml_file.read(TYPES_FILE)["tokens"]


def snake(name: str) -> str:
    """The bridge's default naming, run backwards: Terraform attribute `tunnel1_ike_versions`
    is Pulumi's `tunnel1IkeVersions` (terraform_types.yaml naming_rules.default)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def tf_name(name: str) -> str:
    """A Terraform resource name (letters, digits, _ and -, not starting with a digit)."""
    out = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    return out if re.match(r"[A-Za-z_]", out) else "r_" + out


def why_not(record: Record, table: Mapping[str, Any]) -> str | None:
    """None for a resource the export translates, else why it is left out. A cloud type the
    map lacks says so plainly: the map must grow (scripts/gen_terraform_types.py)."""
    if not record.custom:
        return COMPONENT
    if record.type in table:
        return None
    for prefix, reason in NO_TWIN.items():
        if record.type.startswith(prefix):
            return reason
    return "UNMAPPED: no entry in components/catalog/terraform_types.yaml"


def addresses(records: Iterable[Record], table: Mapping[str, Any]) -> dict[str, str]:
    """URN -> Terraform address (`aws_s3_bucket.<name>`) of every translated resource.
    Checkov joins configuration to planned values by type and name, so both must be unique."""
    out: dict[str, str] = {}
    for r in records:
        if why_not(r, table) is None:
            out[r.urn] = f"{table[r.type]['terraform_type']}.{tf_name(r.name)}"
    if len(set(out.values())) != len(out):
        raise ValueError("two resources share a Terraform address")
    return out


def _reference(value: Any, targets: list[tuple[str, Record]]) -> str | None:
    """The `<address>.<attribute>` a string input holds, if it is one of the dependency
    targets' outputs as the offline plan produces them: the id the mock engine gives
    (`<name>-id`, components/plan/runner.py), the ARN the aws mocks compute
    (components/aws/mocks.py), or the target's own `name` input."""
    if not isinstance(value, str):
        return None
    for address, target in targets:
        if value == f"{target.name}-id":
            return f"{address}.id"
        if value.startswith("arn:") and value.endswith(f":{target.name}"):
            return f"{address}.arn"
        if value == target.inputs.get("name"):
            return f"{address}.name"
    return None


def _refs(found: Iterable[str]) -> dict[str, list[str]]:
    """Terraform's shape: each attribute reference followed by its resource's address."""
    out: list[str] = []
    for ref in found:
        out += [ref, ref.rsplit(".", 1)[0]]
    return {"references": out}


class _Converter:
    """One resource's inputs -> Terraform values and expressions (nested blocks included)."""

    def __init__(self, entry: Mapping[str, Any], targets: list[tuple[str, Record]]):
        self.used: dict[str, str] = entry.get("inputs_used") or {}
        renames = entry.get("field_renames")
        self.renames = renames if isinstance(renames, dict) else {}
        self.targets = targets

    def attr(self, path: str, key: str) -> str:
        """The Terraform name of input `key` under `path`: the map's, else the mechanical one."""
        full = f"{path}.{key}" if path else key
        if full in self.used:
            return self.used[full].rsplit(".", 1)[-1]
        if full in self.renames:
            return self.renames[full]["terraform"]
        return snake(key)

    def value(self, key: str, value: Any, path: str) -> tuple[Any, Any]:
        """(value for planned_values, expression or None). A nested object is a one-element
        list of blocks, as Terraform writes a MaxItems=1 block, so references inside it reach
        Checkov (plan_parser._hclify keeps expressions only for lists of dicts)."""
        if key in MAPS:
            return value, None
        if isinstance(value, dict):
            block, expr = self.block(value, path)
            return [block], None if expr is None else [expr]
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            pairs = [self.block(v, f"{path}.[]") for v in value]
            exprs = [e for _, e in pairs]
            return [b for b, _ in pairs], None if all(e is None for e in exprs) else [
                e or {} for e in exprs
            ]
        items = value if isinstance(value, list) else [value]
        found = [_reference(v, self.targets) for v in items]
        if found and all(found):
            return None, _refs(f for f in found if f)
        return value, None

    def block(self, value: Mapping[str, Any], path: str) -> tuple[dict[str, Any], Any]:
        values, exprs = {}, {}
        for key, sub in value.items():
            name = self.attr(path, key)
            values[name], expr = self.value(key, sub, f"{path}.{key}" if path else key)
            if expr is not None:
                exprs[name] = expr
        return values, exprs or None


def _inputs(record: Record) -> dict[str, Any]:
    """The inputs as Terraform would take them. A Lambda's code is a Pulumi Archive where
    Terraform takes a zip path (`code` -> `filename`, terraform_types.yaml): the path names
    the archive's files, since the offline plan builds no zip."""
    inputs = dict(record.inputs)
    code = inputs.get("code")
    if record.type == "aws:lambda/function:Function" and isinstance(code, dict):
        inputs["code"] = "archive:" + ",".join(sorted(code.get("archive") or {}))
    return inputs


def resource(
    record: Record, entry: Mapping[str, Any], urns: Mapping[str, str], by_urn: Mapping[str, Record]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values, expressions) of one resource. An input computed from other resources (the
    engine's propertyDependencies) that holds one of their outputs is written null with a
    reference; one that only embeds them (a policy document with an ARN) keeps its value,
    which checks read, and records the reference beside it."""
    values: dict[str, Any] = {}
    expressions: dict[str, Any] = {}
    for key, value in _inputs(record).items():
        deps = record.property_dependencies.get(key) or []
        targets = [(urns[u], by_urn[u]) for u in deps if u in urns]
        conv = _Converter(entry, targets)
        name = conv.attr("", key)
        values[name], expr = conv.value(key, value, key)
        # A block keeps Terraform's list shape in expressions too, so a link found nowhere
        # inside it is not recorded at the block's level.
        written = values[name]
        blocks = isinstance(written, list) and any(isinstance(v, dict) for v in written)
        if expr is None and targets and not blocks:
            expr = _refs(f"{a}.id" for a, _ in targets)
        if expr is not None:
            expressions[name] = expr
    return values, expressions


def _entries(record: Record, address: str, values: Any, expressions: Any) -> tuple[dict, ...]:
    """The resource's planned value, its change (a create) and its configuration."""
    tf_type, name = address.split(".", 1)
    provider = next(p for c, p in PROVIDERS.items() if record.type.startswith(c))
    head = {"address": address, "mode": "managed", "type": tf_type, "name": name}
    unknown = {k: True for k, v in values.items() if v is None and k in expressions}
    planned = {**head, "provider_name": provider, "schema_version": 0, "values": values,
               "sensitive_values": {}}
    change = {**head, "provider_name": provider, "change": {
        "actions": ["create"], "before": None, "after": values, "after_unknown": unknown,
        "before_sensitive": False, "after_sensitive": {}}}
    config = {**head, "provider_config_key": provider.rsplit("/", 1)[-1],
              "expressions": expressions, "schema_version": 0}
    return planned, change, config


def export(
    stack: str,
    records: list[Record],
    table: Mapping[str, Any] | None = None,
    skips: Iterable[scan.Skip] | None = None,
) -> dict:
    """The Terraform JSON plan of `records`, with `llm_platform.skipped` (left out, with why),
    `llm_platform.unmapped` (cloud types the map lacks: an empty list is the goal) and
    `llm_platform.scanner_skips` (checks skipped on a resource, with why; `skips_hcl`)."""
    table = types() if table is None else table
    skips = scanner_skips() if skips is None else list(skips)
    urns = addresses(records, table)
    by_urn = {r.urn: r for r in records}
    planned, changes, config, skipped, checks = [], [], [], [], []
    for r in records:
        reason = why_not(r, table)
        if reason is not None:
            skipped.append({"urn": r.urn, "type": r.type, "reason": reason})
            continue
        checks += [{"address": urns[r.urn], "check": s.check, "reason": s.reason}
                   for s in scan.matching(r.type, r.name, skips)]
        values, expressions = resource(r, table[r.type], urns, by_urn)
        entries = _entries(r, urns[r.urn], values, expressions)
        for out, entry in zip((planned, changes, config), entries, strict=True):
            out.append(entry)
    return {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {"root_module": {"resources": config}},
        "llm_platform": {
            "stack": stack,
            "type_map": "components/catalog/terraform_types.yaml",
            "skipped": skipped,
            "unmapped": sorted({s["type"] for s in skipped if s["reason"].startswith("UNMAPPED")}),
            "scanner_skips": checks,
        },
    }

