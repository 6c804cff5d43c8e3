"""The layout rules of docs/architecture.md, checked over the source so a change that breaks
one fails review: short functions, components that never read the spec, pure modules that
never load Pulumi, cloud packages that never import each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 60
CLOUDS = ("aws", "gcp", "azure")


def _modules(*roots: str) -> list[Path]:
    return sorted(p for r in roots for p in (ROOT / r).rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imports(tree: ast.Module) -> set[str]:
    """Every module a file imports, as dotted names (`from a import b` gives a and a.b)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def _defines_component(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ClassDef)
        and any(ast.unparse(b).endswith("ComponentResource") for b in node.bases)
        for node in ast.walk(tree)
    )


def test_no_function_in_components_or_policies_is_over_60_lines():
    long = [
        f"{p.relative_to(ROOT)}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
        for p in _modules("components", "policies")
        for n in ast.walk(_tree(p))
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_no_component_module_imports_the_spec():
    offenders = [
        str(p.relative_to(ROOT))
        for p in _modules("components")
        if _defines_component(tree := _tree(p))
        and any(m == "components.spec" or m.startswith("components.spec.") for m in _imports(tree))
    ]
    assert offenders == []


def test_the_component_check_sees_components_and_spec_imports():
    """The two checks above read the source; this keeps them from passing on nothing."""
    found = [p for p in _modules("components") if _defines_component(_tree(p))]
    assert len(found) >= 20
    resolvers = [p for p in _modules("components") if p.name == "resolve.py"]
    assert {p.parent.name for p in resolvers} >= {"kubernetes", "onprem", *CLOUDS}
    assert all("components.spec" in _imports(_tree(p)) for p in resolvers)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_cloud_package_never_imports_another(cloud):
    others = [c for c in CLOUDS if c != cloud]
    offenders = [
        f"{p.relative_to(ROOT)} imports {m}"
        for p in _modules(f"components/{cloud}")
        for m in _imports(_tree(p))
        if any(m == f"components.{o}" or m.startswith(f"components.{o}.") for o in others)
    ]
    assert offenders == []


PURE = (
    "components.spec",
    "components.sizing",
    "components.pricing",
    "components.catalog",
    "components.naming",
    "components.scheduling",
    "components.engines",
    "components.observability.rules",
    "components.observability.dashboards",
    "components.ci",
    "components.plan.arm",
    "components.plan.terraform",
)


def test_pure_modules_load_no_pulumi_and_no_cloud_sdk():
    """Imported in a fresh interpreter, so whatever they pull in transitively counts."""
    code = (
        "import sys, importlib\n"
        f"for m in {PURE!r}: importlib.import_module(m)\n"
        "print(sorted({n.split('.')[0] for n in sys.modules if n.startswith('pulumi')}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
