"""Removing any one branch of a policy rule fails one of the pack's cases.

tests/test_policies.py removes whole rules; this removes one branch at a time, in the test
process: each `if` of a rule or check never taken (its test made False), each operand of
an `and`/`or` in a condition dropped, each entry of a table left out (a literal tuple, list
or set inside a rule, and the module-level tables the rules read: required tags and
labels, pod template paths, each cloud's type tables). A branch is removed by swapping the
function's code for one compiled from the edited source, so every reference to the
function (the PolicyPack's, a cloud's type table's) runs the edited copy; the table entries
are removed where the rules read them. Each mutant runs the cases of
tests/policy_cases.py until one fails.
"""

from __future__ import annotations

import ast
import gc
import importlib
import inspect
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import CodeType, FunctionType, ModuleType
from typing import Any

import pytest
from policy_cases import CASES, failures, run_in_process

from components import clouds
from policies.llm_platform_rules import POLICIES

MODULES = [
    "policies.llm_platform_rules._base",
    "policies.llm_platform_rules.cost_caps",
    "policies.llm_platform_rules.reliability",
    "policies.llm_platform_rules.security",
    "policies.llm_platform_rules.tagging",
    "policies.llm_platform_rules.gateway",
    "components.aws.policy_checks",
    "components.gcp.policy_checks",
    "components.azure.policy_checks",
    "components.aws.policy_types",
    "components.gcp.policy_types",
    "components.azure.policy_types",
]
# Module-level tables the rules read at call time: (module, name).
TABLES = [
    ("policies.llm_platform_rules.tagging", "REQUIRED_TAGS"),
    ("policies.llm_platform_rules.tagging", "REQUIRED_LABELS"),
    ("policies.llm_platform_rules.tagging", "TAG_PATHS"),
    ("policies.llm_platform_rules.tagging", "TAGGABLE"),
    ("policies.llm_platform_rules._base", "_POD_SPEC_PATHS"),
    ("policies.llm_platform_rules.cost_caps", "_BATCH"),
    ("policies.llm_platform_rules.security", "OPEN_CIDRS"),
    ("policies.llm_platform_rules.reliability", "SEVERITIES"),
    ("policies.llm_platform_rules.reliability", "MOVING_REVISIONS"),
    ("policies.llm_platform_rules.gateway", "LIMITS"),
    ("components.aws.policy_checks", "PUBLIC_ACLS"),
    ("components.aws.policy_checks", "PAB_FLAGS"),
]
# Each cloud's type tables (components/<cloud>/policy_types.py) that the rules look a type up in.
CLOUD_TABLES = ["instance_types", "accelerators", "pool_max", "pool_tags", "on_spot",
                "node_labels", "budgets",
                "storage", "endpoint", "secrets_encryption", "instance_metadata"]
# Branches that run only while the pack is built, which tests/test_policies.py covers over
# gRPC (a stack rule built as a resource rule is never asked about the stack).
AT_IMPORT = {"_base.rule", "_base.string_list", "cost_caps._cost_schema",
             "security._schema_bool"}
# Branches no input can tell from their removal, each with the reason.
EQUIVALENT = {
    "cost_caps.is_gpu_instance: if inst is not None": "every catalog instance with GPUs is "
    "in its cloud's GPU family and none without is, so the family pattern gives the same "
    "answer for catalog types",
    "_base.pod_labels: drop not path from not path or len(path) == 1": "only called for a "
    "kind with a pod template (after pod_spec), so path is never empty",
    "_base.pod_labels: drop len(path) == 1 from not path or len(path) == 1": "for a Pod "
    "(path ('spec',)) the other branch reads the same metadata.labels",
    "_base.pod_labels: if not path or len(path) == 1": "as the two above",
    "cost_caps._instance_types: drop isinstance(t, str) from isinstance(t, str) and t":
    "instance types reach the pack as strings or None (the SDKs' inputs are str); None is "
    "dropped by the other operand",
    "cost_caps._instance_types: drop t from isinstance(t, str) and t": "an empty type is in "
    "no GPU family and no catalog row, so it is skipped either way",
    "cost_caps._replica_max: drop type_.startswith('kubernetes:autoscaling/') from "
    "type_.startswith('kubernetes:autoscaling/') and type_.endswith(':HorizontalPodAutoscaler')":
    "Kubernetes has a HorizontalPodAutoscaler kind only in the autoscaling group",
    "cost_caps.budget: drop cloud is None from cloud is None or reader is None": "reader is "
    "None whenever cloud is (the line above)",
    "security._restricted: drop pod is None from pod is None or namespace in "
    "config(args, 'exemptNamespaces', [])": "get() reads nothing from None, so a kind "
    "without a pod template has no containers to check either way",
    "security._pinned: if pod is None": "as for security._restricted",
    "security._load_balancer: if args.resource_type != 'kubernetes:core/v1:Service'": "no "
    "other kind the pack sees has spec.type LoadBalancer",
}


@dataclass(frozen=True)
class Mutant:
    name: str
    apply: Callable[[], Callable[[], None]]  # removes the branch, returns the undo


def _source_mutants(module: ModuleType) -> Iterator[Mutant]:
    path = inspect.getsourcefile(module)
    assert path is not None
    source = Path(path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    short = module.__name__.rsplit(".", 1)[-1]
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or f"{short}.{fn.name}" in AT_IMPORT:
            continue
        for node, label, replace in _branches(fn):
            yield Mutant(f"{short}.{fn.name}: {label}",
                         _swapper(module, path, tree, fn.name, node, replace))


def _branches(fn: ast.FunctionDef) -> Iterator[tuple[ast.AST, str, Callable[[ast.AST], None]]]:
    """(node, label, edit) for each branch in `fn`: the edit removes it from the tree and
    puts it back when called again."""
    for node in ast.walk(fn):
        tests: list[tuple[ast.AST, str]] = []
        if isinstance(node, ast.If | ast.IfExp | ast.While):
            tests.append((node, "test"))
        if isinstance(node, ast.comprehension):
            tests += [(node, f"ifs.{i}") for i in range(len(node.ifs))]
        for owner, where in tests:
            cond = _get(owner, where)
            yield owner, f"if {ast.unparse(cond)}", _setter(owner, where, ast.Constant(False))
            for op in ast.walk(cond):
                if isinstance(op, ast.BoolOp):
                    neutral = isinstance(op.op, ast.And)
                    for i, value in enumerate(op.values):
                        yield op, f"drop {ast.unparse(value)} from {ast.unparse(op)}", \
                            _setter(op, f"values.{i}", ast.Constant(neutral))
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) > 1 and all(
            isinstance(e, ast.Constant) for e in node.elts
        ):
            for i, e in enumerate(node.elts):
                yield node, f"drop {e.value!r} from {ast.unparse(node)}", _dropper(node, i)


def _get(node: ast.AST, where: str) -> Any:
    field, _, index = where.partition(".")
    value = getattr(node, field)
    return value[int(index)] if index else value


def _setter(node: ast.AST, where: str, new: ast.AST) -> Callable[[ast.AST], None]:
    field, _, index = where.partition(".")

    def swap(_: ast.AST) -> None:
        nonlocal new
        value = getattr(node, field)
        if index:
            value[int(index)], new = new, value[int(index)]
        else:
            setattr(node, field, new)
            new = value

    return swap


def _dropper(node: Any, i: int) -> Callable[[ast.AST], None]:
    removed: list[Any] = []

    def swap(_: ast.AST) -> None:
        if removed:
            node.elts.insert(i, removed.pop())
        else:
            removed.append(node.elts.pop(i))

    return swap


def _swapper(module: ModuleType, path: str, tree: ast.Module, name: str, node: ast.AST,
             edit: Callable[[ast.AST], None]) -> Callable[[], Callable[[], None]]:
    def apply() -> Callable[[], None]:
        edit(node)
        try:
            code = compile(ast.fix_missing_locations(tree), path, "exec")
        finally:
            edit(node)
        return _swap(getattr(module, name).__code__, _function_code(code, name))

    return apply


def _function_code(module_code: CodeType, name: str) -> CodeType:
    return next(c for c in module_code.co_consts if isinstance(c, CodeType) and c.co_name == name)


@cache
def _functions_by_code() -> dict[int, list[FunctionType]]:
    """Every function alive once the pack is imported, by the id of its code. Gathered once:
    gc.get_referrers scans the whole heap on each call, which in a full run (the cloud SDKs
    loaded) was most of this file's time."""
    found: dict[int, list[FunctionType]] = defaultdict(list)
    for f in gc.get_objects():
        if isinstance(f, FunctionType):
            found[id(f.__code__)].append(f)
    return found


def _swap(old: CodeType, new: CodeType) -> Callable[[], None]:
    """Run `new` wherever `old` runs: the function itself, and the closures it made before
    (the wrapper `_outside_charts` put around each resource rule at import)."""
    swapped = [(f, old) for f in _functions_by_code().get(id(old), [])]
    for f, _ in swapped:
        f.__code__ = new
    undo = [*(_swap(o, n) for o, n in _nested(old, new) if o.co_freevars)]

    def restore() -> None:
        for f, code in swapped:
            f.__code__ = code
        for u in undo:
            u()

    return restore


def _nested(old: CodeType, new: CodeType) -> Iterator[tuple[CodeType, CodeType]]:
    news = {c.co_name: c for c in new.co_consts if isinstance(c, CodeType)}
    for c in old.co_consts:
        if isinstance(c, CodeType) and c.co_name in news:
            yield c, news[c.co_name]


def _without(value: Any, entry: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != entry}
    return type(value)(x for x in value if x != entry)


def _refill(table: dict | list | set, content: Any) -> None:
    table.clear()
    if isinstance(table, list):
        table.extend(content)
    else:
        table.update(content)


def _table_mutant(name: str, owner: Any, attr: str, entry: Any) -> Mutant:
    def apply() -> Callable[[], None]:
        table = getattr(owner, attr)
        if isinstance(table, dict | list | set):  # shared with other readers: edit in place
            saved = table.copy()
            _refill(table, _without(table, entry))
            return lambda: _refill(table, saved)
        object.__setattr__(owner, attr, _without(table, entry))
        return lambda: object.__setattr__(owner, attr, table)

    return Mutant(name, apply)


def _table_mutants() -> Iterator[Mutant]:
    for module_name, attr in TABLES:
        module = importlib.import_module(module_name)
        # Sorted by repr: a set's order follows the string hash, which differs per process,
        # and xdist's workers must collect the same tests in the same order.
        for entry in sorted(getattr(module, attr), key=repr):
            yield _table_mutant(f"{module_name.rsplit('.', 1)[-1]}.{attr} without {entry!r}",
                                module, attr, entry)
    for cloud in clouds.clouds():
        for table in CLOUD_TABLES:
            for entry in sorted(getattr(cloud.policy, table), key=repr):
                yield _dict_entry_mutant(cloud.name, table, cloud.policy, entry)
        if cloud.policy.bucket_guards is not None:
            for guard in sorted(cloud.policy.bucket_guards.guards, key=repr):
                yield _table_mutant(f"{cloud.name}.bucket_guards without {guard[0]}",
                                    cloud.policy.bucket_guards, "guards", guard)


def _dict_entry_mutant(cloud: str, table: str, policy: Any, entry: str) -> Mutant:
    def apply() -> Callable[[], None]:
        mapping = getattr(policy, table)
        value = mapping.pop(entry)
        return lambda: mapping.__setitem__(entry, value)

    return Mutant(f"{cloud}.{table} without {entry!r}", apply)


def mutants() -> list[Mutant]:
    found = [m for name in MODULES for m in _source_mutants(importlib.import_module(name))]
    return [*found, *_table_mutants()]


# The cases in the order they are tried: the one that caught the last mutant first, since the
# next mutant is most often a branch of the same rule (this cut the file's time by about 3x).
_ORDER = list(CASES)


def _caught() -> bool:
    """Whether some case fails; a rule that raises fails its case too."""
    for i, case in enumerate(_ORDER):
        try:
            failed = bool(failures(lambda c, t: run_in_process(POLICIES, c, t), case))
        except Exception:  # noqa: BLE001 - any crash is a failing test
            failed = True
        if failed:
            _ORDER.insert(0, _ORDER.pop(i))
            return True
    return False


MUTANTS = mutants()


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_removing_a_branch_fails_a_case(mutant: Mutant):
    undo = mutant.apply()
    try:
        caught = _caught()
    finally:
        undo()
    if mutant.name in EQUIVALENT:
        assert not caught, f"{mutant.name} is caught now: drop it from EQUIVALENT"
    else:
        assert caught, f"no case notices when this branch is removed: {mutant.name}"


def test_the_unmutated_pack_passes_every_case():
    assert not _caught()
