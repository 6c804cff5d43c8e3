"""Regenerate the flag and metric lists in engines.yaml from an engine's real source.

    pip download --no-deps -d /tmp/vllm vllm==0.33.0 && unzip -q /tmp/vllm/*.whl -d /tmp/vllm
    python -m components.catalog.engine_lists vllm /tmp/vllm
    python -m components.catalog.engine_lists triton SERVER CORE BACKEND
    git -C TGI_GIT archive v3.3.7 launcher router backends/v3/src | tar -x -C /tmp/tgi
    python -m components.catalog.engine_lists tgi /tmp/tgi
    pip download --no-deps -d /tmp/sgl sglang==0.5.23 && unzip -q /tmp/sgl/*.whl -d /tmp/sgl
    python -m components.catalog.engine_lists sglang /tmp/sgl

SERVER, CORE and BACKEND are checkouts of triton-inference-server/server (v2.58.0),
core (r25.05) and tensorrtllm_backend (v0.19.0); TGI_GIT is a clone of
huggingface/text-generation-inference. The output is YAML to paste under the release's
row. Source is parsed, not imported: vLLM needs CUDA to import. The vLLM row's
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


def _struct_fields(text: str, struct: str) -> list[tuple[str, str]]:
    """(field, its #[clap(...)] attribute) for each field of a Rust struct that has one."""
    body = re.search(rf"struct {struct} \{{\n(.*?)\n\}}", text, re.S)
    assert body, f"struct {struct} not found"
    out, attr = [], None
    for line in body[1].splitlines():
        line = line.strip()
        if line.startswith("#[clap("):
            attr = line
        elif (field := re.match(r"(?:pub\s+)?(\w+):", line)) and attr is not None:
            out.append((field[1], attr))
            attr = None
    return out


def tgi_flags(root: Path) -> list[str]:
    """The launcher's long options: clap derives `--kebab-case` from each `long` field
    (`#[clap(...)]` on struct Args, launcher/src/main.rs)."""
    text = (root / "launcher/src/main.rs").read_text()
    return sorted("--" + name.replace("_", "-") for name, attr in _struct_fields(text, "Args")
                  if re.search(r"\blong\b", attr))


def _rust_sources(root: Path) -> str:
    files = [*(root / "router/src").rglob("*.rs"), *(root / "backends/v3/src").rglob("*.rs")]
    # Comment lines out: a commented-out recorder or bucket setting is not in the release.
    return "\n".join(re.sub(r"//[^\n]*", "", f.read_text()) for f in sorted(files))


def tgi_metrics(root: Path) -> dict[str, dict[str, list[str]]]:
    """metrics-exporter-prometheus 0.15.3 (TGI's Cargo.lock) writes counters and gauges
    under their own name (no _total), histograms with buckets as _bucket/_sum/_count and
    histograms without as summaries (name{quantile}, _sum, _count): recorder.rs render().
    Buckets are set per name by the matchers passed to set_buckets_for_metric."""
    src = _rust_sources(root)
    matchers = dict(re.findall(
        r'let (\w+) = Matcher::((?:Full|Suffix|Prefix)\(String::from\("\w+"\)\))', src))
    bucketed = [re.match(r'(\w+)\(String::from\("(\w+)"\)\)', matchers[m]).groups()
                for m in re.findall(r"set_buckets_for_metric\((\w+),", src)]

    def has_buckets(name: str) -> bool:
        tests = {"Full": name.__eq__, "Suffix": name.endswith, "Prefix": name.startswith}
        return any(tests[kind](value) for kind, value in bucketed)

    found: dict[str, dict[str, set[str]]] = {}
    for kind, name, rest in re.findall(
        r'(counter|gauge|histogram)!\(\s*"(tgi_\w+)"((?:\s*,\s*"\w+"\s*=>\s*"[^"]*")*)', src):
        if kind == "histogram":
            series = ["_bucket", "_sum", "_count"] if has_buckets(name) else ["", "_sum", "_count"]
        else:
            series = [""]
        for s in series:
            labels = found.setdefault(name + s, {})
            for label, value in re.findall(r'"(\w+)"\s*=>\s*"([^"]*)"', rest):
                labels.setdefault(label, set()).add(value)
    return {n: {k: sorted(v) for k, v in ls.items()} for n, ls in sorted(found.items())}


def _annotated_fields(tree: ast.Module) -> dict[str, list[ast.AnnAssign]]:
    """class -> its `name: A[T, "help" | Arg(...)] = ...` fields, inherited ones included
    (arg_utils.add_cli_args_from_dataclass skips fields without such metadata)."""
    own: dict[str, list[ast.AnnAssign]] = {}
    bases: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases[node.name] = [ast.unparse(b) for b in node.bases]
            own[node.name] = [
                f for f in node.body if isinstance(f, ast.AnnAssign)
                and isinstance(f.target, ast.Name) and isinstance(f.annotation, ast.Subscript)
                and ast.unparse(f.annotation.value) in ("A", "Annotated")
                and isinstance(f.annotation.slice, ast.Tuple)
                and len(f.annotation.slice.elts) >= 2
                and (isinstance(meta := f.annotation.slice.elts[1], ast.Constant)
                     or (isinstance(meta, ast.Call) and ast.unparse(meta.func) == "Arg")
                     or isinstance(meta, ast.BinOp))
            ]

    def collect(cls: str) -> list[ast.AnnAssign]:
        return [f for b in bases.get(cls, []) for f in collect(b)] + own.get(cls, [])

    return {cls: collect(cls) for cls in own}


def _arg_names(field: ast.AnnAssign) -> list[str]:
    """The option strings add_cli_args_from_dataclass registers for one field, with the
    `--no-` twin a BooleanOptionalAction adds."""
    meta = field.annotation.slice.elts[1]  # type: ignore[attr-defined]
    kw = {k.arg: k.value for k in meta.keywords} if isinstance(meta, ast.Call) else {}
    if "no_cli" in kw and ast.literal_eval(kw["no_cli"]):
        return []
    name = field.target.id  # type: ignore[attr-defined]
    names = [ast.literal_eval(kw["cli_name"]) if "cli_name" in kw
             else "--" + name.replace("_", "-")]
    names += ast.literal_eval(kw["aliases"]) if "aliases" in kw else []
    if "action" in kw and "BooleanOptionalAction" in ast.unparse(kw["action"]):
        names += ["--no-" + n[2:] for n in names if n.startswith("--")]
    return [n for n in names if n.startswith("--")]


def sglang_flags(root: Path) -> list[str]:
    """ServerArgs' CLI (sglang/srt/server_args.py): one option per annotated field of the
    namespaces in _INPUT_NAMESPACES (sglang/srt/arg_groups/fields/*.py), plus the options
    ServerArgs.add_cli_args registers by hand."""
    srt = root / "sglang/srt"
    server_args = ast.parse((srt / "server_args.py").read_text())
    namespaces = next(
        [ast.unparse(e) for e in n.value.elts] for n in server_args.body
        if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "_INPUT_NAMESPACES")
    fields: dict[str, list[ast.AnnAssign]] = {}
    for path in sorted((srt / "arg_groups/fields").glob("*.py")):
        fields.update(_annotated_fields(ast.parse(path.read_text())))
    missing = [ns for ns in namespaces if ns not in fields]
    assert not missing, f"namespaces not found in arg_groups/fields: {missing}"
    flags = {n for ns in namespaces for f in fields[ns] for n in _arg_names(f)}
    flags |= {n for f in _annotated_fields(server_args).get("ServerArgs", [])
              for n in _arg_names(f)}
    for n in ast.walk(server_args):
        if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "add_argument":
            flags.update(a.value for a in n.args if isinstance(a, ast.Constant)
                         and str(a.value).startswith("--"))
    return sorted(flags)


_PY_KINDS = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram",
             "Summary": "summary", "GaugeHistogram": "gauge"}


def sglang_metrics(root: Path) -> dict[str, dict[str, list[str]]]:
    """Every prometheus_client metric named `sglang:*` in the package, with the series
    prometheus_client writes for it (a Summary without quantiles: _sum and _count)."""
    out: set[str] = set()
    for path in (root / "sglang").rglob("*.py"):
        for n in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(n, ast.Call) and ast.unparse(n.func).split(".")[-1] in _PY_KINDS):
                continue
            args = [k.value for k in n.keywords if k.arg == "name"] or n.args[:1]
            if not (args and isinstance(args[0], ast.Constant)
                    and str(args[0].value).startswith("sglang:")):
                continue
            kind = _PY_KINDS[ast.unparse(n.func).split(".")[-1]]
            name = args[0].value
            suffixes = {**_KIND_SUFFIXES, "summary": ["_sum", "_count"]}[kind]
            base = name.removesuffix("_total") if kind == "counter" else name
            out.update(base + s for s in suffixes)
    return {name: {} for name in sorted(out)}


def main(argv: list[str]) -> None:
    root = Path(argv[1])
    if argv[0] == "vllm":
        data = {"flags": vllm_flags(root), "metrics": vllm_metrics(root)}
    elif argv[0] == "tgi":
        data = {"flags": tgi_flags(root), "metrics": tgi_metrics(root)}
    elif argv[0] == "sglang":
        data = {"flags": sglang_flags(root), "metrics": sglang_metrics(root)}
    else:
        server, core, backend = map(Path, argv[1:4])
        data = {"flags": triton_flags(server), "metrics": triton_metrics(core, backend)}
    yaml.safe_dump(data, sys.stdout, default_flow_style=None, width=100, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
