"""Pins and conventions as data (issue 12, part 6).

Every image and chart pin lives in components/catalog (versions.yaml, engines.yaml for the
engine images, kubernetes_versions.yaml for the cluster autoscaler), each with where it was
checked and when; every label, annotation and taint key in components/conventions.py. These
tests scan the source, so a pin or a key typed into a module again fails here.
"""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from components import conventions
from components.aws import budget_enforcer
from components.catalog import versions

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "components" / "catalog"
# registry/repo:tag[@sha256:...], or repo:tag with at least one slash: what a pinned image
# reference looks like when typed into code.
IMAGE_REF = re.compile(
    r"^(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9._-]+(?:/[a-z0-9._-]+)+:[A-Za-z0-9_][A-Za-z0-9_.-]*"
    r"(?:@sha256:[a-f0-9]{64})?$"
)
SEMVER = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+$")
TODAY = date(2026, 12, 2)


def _sources(*tops: str, skip: tuple[Path, ...] = ()) -> list[Path]:
    files = [p for top in tops for p in sorted((ROOT / top).rglob("*.py"))]
    return [p for p in files if not any(p.is_relative_to(s) for s in skip)]


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string constant of a module except docstrings, with its line."""
    tree = ast.parse(path.read_text())
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


def _hits(predicate, *tops: str, skip: tuple[Path, ...] = ()) -> list[str]:
    return [
        f"{p.relative_to(ROOT)}:{line}: {s!r}"
        for p in _sources(*tops, skip=skip)
        for line, s in _strings(p)
        if predicate(s)
    ]


# --- pins ---------------------------------------------------------------------------------


def test_the_catalog_presents_every_pin_from_its_one_file():
    """versions() shows the engine images (engines.yaml) and the autoscaler pins
    (kubernetes_versions.yaml) beside versions.yaml's rows, copied from nowhere."""
    pins = versions.versions()
    engines = yaml.safe_load((CATALOG / "engines.yaml").read_text())["engines"]
    for e in engines:
        assert pins[f"engine/{e['id']}"].value == e["image"]
    k8s = yaml.safe_load((CATALOG / "kubernetes_versions.yaml").read_text())["versions"]
    eks = [r for r in k8s if r.get("cluster_autoscaler_chart")]
    assert len(eks) >= 5
    for r in eks:
        chart = pins[f"cluster-autoscaler-chart@{r['id']}"]
        assert (chart.value, chart.repo) == (
            r["cluster_autoscaler_chart"], "https://kubernetes.github.io/autoscaler"
        )
        assert pins[f"cluster-autoscaler-image@{r['id']}"].value == r["cluster_autoscaler_image"]
    own = yaml.safe_load((CATALOG / "versions.yaml").read_text())["versions"]
    assert len(pins) == len(own) + len(engines) + 2 * len(eks)
    # What the GPU DaemonSets and the operator chart are pinned as, and where Helm gets it.
    assert pins["dcgm-exporter"].value.startswith("nvcr.io/nvidia/k8s/dcgm-exporter:")
    assert pins["nvidia-device-plugin"].value.startswith("nvcr.io/nvidia/k8s-device-plugin:")
    assert versions.chart("gpu-operator").repo == "https://helm.ngc.nvidia.com/nvidia"


def test_every_pin_says_where_it_was_checked_and_when():
    for pin in versions.versions().values():
        assert len(pin.source) >= 20, f"{pin.id}: source {pin.source!r} names nothing"
        assert date.fromisoformat(pin.as_of) <= TODAY, f"{pin.id}: as_of in the future"


def test_every_image_is_pinned_by_a_release_tag_or_a_digest():
    images = [p for p in versions.versions().values() if p.kind in ("image", "engine")]
    assert len(images) >= 8
    for pin in images:
        name = pin.value.split("@sha256:")[0]
        tag = name.rsplit("/", 1)[-1].partition(":")[2] if "/" in name or ":" in name else ""
        if pin.id.startswith(f"{versions.AUTOSCALER}-image@"):
            tag = name  # a tag of the chart's default image
        assert tag or "@sha256:" in pin.value, f"{pin.id}: {pin.value} has no tag or digest"
        assert tag != "latest", f"{pin.id}: {pin.value} uses latest"


def test_every_chart_names_its_chart_a_version_and_an_https_or_oci_repo():
    charts = [p for p in versions.versions().values() if p.kind == "chart"]
    assert {p.chart for p in charts} >= {
        "kube-prometheus-stack", "prometheus-adapter", "gpu-operator", "cluster-autoscaler"
    }
    for pin in charts:
        assert SEMVER.match(pin.value), f"{pin.id}: {pin.value} is not a chart version"
        # An https Helm repository, or an OCI registry (aws-node-termination-handler's and
        # JobSet's only one), named with its scheme: Helm needs it.
        assert pin.repo and pin.repo.startswith(("https://", "oci://")), f"{pin.id}: {pin.repo}"


def test_no_pin_is_stored_twice():
    rows = yaml.safe_load((CATALOG / "versions.yaml").read_text())["versions"]
    engine_images = {r["image"] for r in yaml.safe_load((CATALOG / "engines.yaml").read_text())["engines"]}
    own = [r["value"] for r in rows]
    assert len(own) == len(set(own))
    assert not set(own) & engine_images, "an engine image belongs in engines.yaml only"


def test_no_image_or_chart_pin_is_typed_into_the_code():
    """Outside the catalog, no string in components/ or policies/ is an image reference or
    equals a pinned version: the code reads each one from the catalog."""
    pinned = {p.value for p in versions.versions().values()}
    hits = _hits(
        lambda s: bool(IMAGE_REF.match(s)) or s in pinned,
        "components", "policies", skip=(CATALOG,),
    )
    assert hits == []


def test_the_scan_finds_a_pin_typed_into_a_module(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text('"""doc"""\nIMAGE = "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.10-3.6.2-ubuntu22.04"\n')
    assert [s for _, s in _strings(planted) if IMAGE_REF.match(s)] == [
        "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.10-3.6.2-ubuntu22.04"
    ]


# --- conventions --------------------------------------------------------------------------


def _convention_values() -> set[str]:
    out: set[str] = set()
    for name, value in vars(conventions).items():
        if name.isupper() and isinstance(value, str):
            out.add(value)
        elif name.isupper() and isinstance(value, tuple):
            out.update(value)
    # Label and taint values, not keys: common words other vocabularies use too (a shadow
    # series' role="candidate").
    values = {conventions.GPU_TAINT_VALUE, conventions.GPU_TAINT_EFFECT,
              conventions.SERVING_LIVE, conventions.SERVING_CANDIDATE}
    return out - {conventions.PREFIX, *values}


def test_the_conventions_are_the_keys_users_and_clusters_see():
    assert conventions.NVIDIA_GPU == "nvidia.com/gpu"  # the NVIDIA device plugin's resource
    assert conventions.POOL_LABEL == "llm-platform.dev/pool"
    assert conventions.GPU_HOUR_ANNOTATION == "llm-platform.dev/gpu-hour-usd"
    assert conventions.RECOMMENDED_LABELS == (
        "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
        "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by",
    )


def test_no_module_spells_a_convention_of_its_own():
    """Every label, annotation and taint key and GPU resource name is written once, in
    conventions.py; the budget Lambda, which cannot import the package, is the one copy."""
    values = _convention_values()
    hits = _hits(
        lambda s: s in values, "components", "policies",
        skip=(ROOT / "components" / "conventions.py", ROOT / "components" / "aws" / "budget_enforcer.py"),
    )
    assert hits == []


def test_the_gpu_taint_literal_appears_only_in_conventions():
    hits = _hits(
        lambda s: conventions.NVIDIA_GPU in s, "components", "policies",
        skip=(ROOT / "components" / "conventions.py",),
    )
    assert hits == []


def test_the_budget_lambda_taints_with_the_conventional_key():
    assert budget_enforcer.TAINT_KEY == conventions.BUDGET_CAP_TAINT_KEY
    assert budget_enforcer.CAP_TAINT["key"] == "llm-platform.dev/budget-hard-cap"


@pytest.mark.parametrize("value", ["nvidia.com/gpu", "app.kubernetes.io/component"])
def test_the_convention_scan_finds_a_key_typed_into_a_module(tmp_path, value):
    planted = tmp_path / "planted.py"
    planted.write_text(f'"""{value} in a docstring is prose."""\nKEY = "{value}"\n')
    assert [s for _, s in _strings(planted) if s in _convention_values()] == [value]
