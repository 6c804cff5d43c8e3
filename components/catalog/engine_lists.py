"""Regenerate the flag and metric lists in engines.yaml from an engine's real source.

    pip download --no-deps -d /tmp/vllm vllm==0.33.0 && unzip -q /tmp/vllm/*.whl -d /tmp/vllm
    python -m components.catalog.engine_lists vllm /tmp/vllm
    python -m components.catalog.engine_lists triton SERVER CORE BACKEND

SERVER, CORE and BACKEND are checkouts of triton-inference-server/server (v2.58.0),
core (r25.05) and tensorrtllm_backend (v0.19.0). The output is YAML to paste under the
release's row. Source is parsed, not imported: vLLM needs CUDA to import. The vLLM row's
http_requests_total entry comes from prometheus-fastapi-instrumentator, not vLLM, and is
kept by hand (see its `source`).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import yaml


def _annotations(root: Path) -> dict[tuple[str, str], str]:
    """(class, field) -> annotation source, for every class in vllm/config and cli_args."""
    out: dict[tuple[str, str], str] = {}
    files = [*(root / "vllm/config").glob("*.py"), root / "vllm/entrypoints/common/cli_args.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        out[(node.name, item.target.id)] = ast.unparse(item.annotation)
    return out


def _negatable(annotation: str) -> bool:
    # get_kwargs (vllm/engine/arg_utils.py) gives bool fields BooleanOptionalAction, except
    # `bool | str | None`, which becomes an optional-valued flag.
    parts = {p.strip() for p in annotation.split("|")}
    return "bool" in parts and "str" not in parts


def _field_ref(call: ast.Call) -> tuple[str, str] | None:
    """`**model_kwargs["max_model_len"]` (or inside a dict merge) -> (var, field)."""
    for kw in call.keywords:
        if kw.arg is not None:
            continue
        for sub in ast.walk(kw.value):
            if (
                isinstance(sub, ast.Subscript)
                and isinstance(sub.value, ast.Name)
                and isinstance(sub.slice, ast.Constant)
            ):
                return sub.value.id, sub.slice.value
    return None


def vllm_flags(root: Path) -> list[str]:
    ann = _annotations(root)
    src = ast.parse((root / "vllm/engine/arg_utils.py").read_text())
    kwargs_class = {
        t.id: v.args[0].id
        for n in ast.walk(src)
        if isinstance(n, ast.Assign) and isinstance(v := n.value, ast.Call)
        and getattr(v.func, "id", "") == "get_kwargs" and v.args and isinstance(v.args[0], ast.Name)
        for t in n.targets if isinstance(t, ast.Name)
    }
    flags: set[str] = set()
    calls = [*ast.walk(src), *ast.walk(ast.parse(
        (root / "vllm/entrypoints/common/cli_args.py").read_text()))]
    for n in calls:
        if not (isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "add_argument"):
            continue
        names = [a.value for a in n.args if isinstance(a, ast.Constant)
                 and isinstance(a.value, str) and a.value.startswith("--")]
        ref = _field_ref(n)
        negate = any("BooleanOptionalAction" in ast.unparse(k.value) for k in n.keywords)
        if ref and ref[0] in kwargs_class:
            negate |= _negatable(ann.get((kwargs_class[ref[0]], ref[1]), ""))
        flags.update(names)
        if negate:
            flags.update("--no-" + f[2:] for f in names)
    # FrontendArgs.add_cli_args: one --flag per dataclass field (common/cli_args.py).
    for (cls, field), annotation in ann.items():
        if cls in ("BaseFrontendArgs", "FrontendArgs") and not field.startswith("_"):
            flag = "--" + field.replace("_", "-")
            flags.add(flag)
            if _negatable(annotation):
                flags.add("--no-" + flag[2:])
    return sorted(flags)


_KIND_SUFFIXES = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}


def vllm_metrics(root: Path) -> dict[str, dict[str, list[str]]]:
    """Exported series names: prometheus_client appends _total to counters and
    _bucket/_sum/_count to histograms."""
    out: set[str] = set()
    for path in (root / "vllm").rglob("*.py"):
        for n in ast.walk(ast.parse(path.read_text())):
            if not isinstance(n, ast.Call):
                continue
            name = next((k.value.value for k in n.keywords if k.arg == "name"
                         and isinstance(k.value, ast.Constant)
                         and str(k.value.value).startswith("vllm:")), None)
            if name is None:
                continue
            func = ast.unparse(n.func).lower()
            kind = next((k for k in _KIND_SUFFIXES if k in func), "gauge")
            base = name.removesuffix("_total") if kind == "counter" else name
            out.update(base + s for s in _KIND_SUFFIXES[kind])
    metrics: dict[str, dict[str, list[str]]] = {name: {} for name in sorted(out)}
    reasons = re.search(r"FINISH_REASON_STRINGS = \(([^)]*)\)",
                        (root / "vllm/v1/engine/__init__.py").read_text())
    assert reasons, "FINISH_REASON_STRINGS not found"
    metrics["vllm:request_success_total"] = {"finished_reason": re.findall(r'"(\w+)"', reasons[1])}
    return metrics


def triton_flags(server: Path) -> list[str]:
    text = (server / "src/command_line_parser.cc").read_text()
    return sorted({"--" + m for m in re.findall(r'\{OPTION_\w+,\s*"([a-z0-9-]+)"', text)})


def triton_metrics(core: Path, backend: Path) -> dict[str, dict[str, list[str]]]:
    """Metric name -> {label: allowed values}; histograms and summaries with their series."""
    out: dict[str, dict[str, list[str]]] = {}
    text = (core / "src/metrics.cc").read_text()
    for kind, name in re.findall(r"prometheus::Build(\w+)\(\)\s*\.Name\(\"(\w+)\"\)", text):
        suffixes = {"Histogram": ["_bucket", "_sum", "_count"], "Summary": ["", "_sum", "_count"]}
        for s in suffixes.get(kind, [""]):
            out[name + s] = {}
    reasons = re.findall(r'\{FailureReason::\w+, "(\w+)"\}',
                         (core / "src/metric_model_reporter.cc").read_text())
    out["nv_inference_request_failure"] = {"reason": reasons}
    rep = (backend / "inflight_batcher_llm/src/custom_metrics_reporter/custom_metrics_reporter.cc")
    src = rep.read_text()
    lists = {k: re.findall(r'"([^"]+)"', v) for k, v in re.findall(
        r"CustomMetricsReporter::(\w+_labels_)\{(.*?)\};", src, re.S)}
    for family, label, labels_var in re.findall(
        r'TritonMetricGroup>\(\s*"(nv_trt_llm_\w+)",\s*"[^"]*",\s*"(\w+)",\s*\w+,\s*(\w+)\)',
        src, re.S):
        out[family] = {label: lists[labels_var]}
    return out


def main(argv: list[str]) -> None:
    if argv[0] == "vllm":
        root = Path(argv[1])
        data = {"flags": vllm_flags(root), "metrics": vllm_metrics(root)}
    else:
        server, core, backend = map(Path, argv[1:4])
        data = {"flags": triton_flags(server), "metrics": triton_metrics(core, backend)}
    yaml.safe_dump(data, sys.stdout, default_flow_style=None, width=100, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
