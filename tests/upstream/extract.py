"""Regenerates the vendored upstream facts under tests/upstream/ from the charts' own
repositories, at the tags named below. Run it after re-pinning a chart:

    python tests/upstream/extract.py --git prometheus-community/helm-charts=/path/to/clone \\
        --git grafana/helm-charts=... --git NVIDIA/gpu-operator=... --git kubernetes/autoscaler=...

Each --git names a local clone (bare is fine) holding the tags. Nothing here is used by the
program; the tests read what this writes.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
KPS = "kube-prometheus-stack-65.1.1"
GRAFANA_8_5 = [f"grafana-8.5.{n}" for n in range(13)]

# chart -> (version, appVersion, [(repo, tag, values.yaml path, key prefix), ...]).
# kube-prometheus-stack 65.1.1 takes grafana "8.5.*" (its Chart.yaml), so its grafana keys
# are those every 8.5.x release has.
CHARTS: dict[str, tuple[str, str, list[tuple[str, str, str, str]]]] = {
    "kube-prometheus-stack": (
        "65.1.1",
        "v0.77.1",
        [("prometheus-community/helm-charts", KPS, "charts/kube-prometheus-stack/values.yaml", "")]
        + [
            ("grafana/helm-charts", tag, "charts/grafana/values.yaml", "grafana")
            for tag in GRAFANA_8_5
        ],
    ),
    "prometheus-adapter": (
        "4.11.0",
        "v0.12.0",
        [
            (
                "prometheus-community/helm-charts",
                "prometheus-adapter-4.11.0",
                "charts/prometheus-adapter/values.yaml",
                "",
            )
        ],
    ),
    "gpu-operator": (
        "v24.9.2",
        "v24.9.2",
        [("NVIDIA/gpu-operator", "v24.9.2", "deployments/gpu-operator/values.yaml", "")],
    ),
    "cluster-autoscaler": (
        "9.43.2",
        "1.31.0",
        [
            (
                "kubernetes/autoscaler",
                "cluster-autoscaler-chart-9.43.2",
                "charts/cluster-autoscaler/values.yaml",
                "",
            )
        ],
    ),
}
# Where each pinned version is published: a Helm repository index (checked to list the
# version) or, for charts released by chart-releaser, the release tag itself.
INDEXES = {
    "gpu-operator": ("NVIDIA/gpu-operator", "gh-pages", "stable/index.yaml"),
    "cluster-autoscaler": ("kubernetes/autoscaler", "gh-pages", "index.yaml"),
}

# Maps a chart template ranges over, so any key is taken, with the flags each key becomes.
# cluster-autoscaler's templates/deployment.yaml turns every extraArgs key into `--<key>`;
# the flags are those the pinned image's main.go defines (image tag v1.31.1).
ARG_MAPS = {
    "cluster-autoscaler": {
        "extraArgs": (
            "kubernetes/autoscaler",
            "cluster-autoscaler-1.31.1",
            "cluster-autoscaler/main.go",
        )
    }
}
VALUES_REF = re.compile(r"\.Values\.([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)")
FLAG = re.compile(r'flag\.\w+\((?:[&\w.]+,\s*)?"([a-z0-9-]+)"')
CRDS = [
    (
        "prometheus-community/helm-charts",
        KPS,
        f"charts/kube-prometheus-stack/charts/crds/crds/crd-{name}.yaml",
    )
    for name in ("servicemonitors", "prometheusrules")
]


def _is_identifier(key: Any) -> bool:
    return isinstance(key, str) and key.replace("_", "a").replace("-", "a").isalnum()


def key_paths(values: Any, prefix: str = "") -> tuple[set[str], set[str]]:
    """Every dotted key path of a values.yaml, and the maps that take any key: those
    whose default is `{}` or whose keys are not names (labels, annotations, selectors)."""
    keys: set[str] = set()
    open_maps: set[str] = set()
    if not isinstance(values, dict):
        return keys, open_maps
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        keys.add(path)
        if isinstance(value, dict):
            if not value or not all(_is_identifier(k) for k in value):
                open_maps.add(path)
            else:
                sub_keys, sub_open = key_paths(value, path)
                keys |= sub_keys
                open_maps |= sub_open
    return keys, open_maps


def template_keys(clones: dict[str, str], repo: str, tag: str, chart_dir: str) -> set[str]:
    """Key paths the chart's own templates read as `.Values.a.b`: the keys values.yaml
    only documents in a comment (e.g. alertmanager.alertmanagerSpec.configSecret)."""
    files = subprocess.run(
        ["git", "-C", clones[repo], "ls-tree", "-r", "--name-only", tag, f"{chart_dir}/templates"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return {m for f in files for m in VALUES_REF.findall(_show(clones, repo, tag, f))}


def _show(clones: dict[str, str], repo: str, tag: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", clones[repo], "show", f"{tag}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def chart_keys(clones: dict[str, str], chart: str) -> dict[str, Any]:
    version, app_version, sources = CHARTS[chart]
    by_prefix: dict[str, list[tuple[set[str], set[str], set[str]]]] = {}
    for repo, tag, path, prefix in sources:
        keys, open_maps = key_paths(yaml.safe_load(_show(clones, repo, tag, path)), prefix)
        read = template_keys(clones, repo, tag, str(Path(path).parent))
        read = {f"{prefix}.{k}" if prefix else k for k in read}
        by_prefix.setdefault(prefix, []).append((keys, open_maps, read))
    keys, open_maps, read = set(), set(), set()
    for found in by_prefix.values():
        keys |= set.intersection(*(k for k, _, _ in found))
        open_maps |= set.intersection(*(o for _, o, _ in found))
        read |= set.intersection(*(r for _, _, r in found))
    published = [f"https://github.com/{r}/releases/tag/{t}" for r, t, _, p in sources[:1]]
    if chart in INDEXES:
        repo, ref, path = INDEXES[chart]
        entries = yaml.safe_load(_show(clones, repo, ref, path))["entries"][chart]
        if version not in {e["version"] for e in entries}:
            raise SystemExit(f"{chart} {version} is not in {repo}@{ref}:{path}")
        published = [f"https://github.com/{repo}/blob/{ref}/{path}"]
    arg_maps = {
        path: {
            "source": f"https://github.com/{repo}/blob/{tag}/{file}",
            "flags": sorted(set(FLAG.findall(_show(clones, repo, tag, file)))),
        }
        for path, (repo, tag, file) in ARG_MAPS.get(chart, {}).items()
    }
    return {
        "chart": chart,
        "version": version,
        "app_version": app_version,
        "source": [f"https://github.com/{r}/blob/{t}/{p}" for r, t, p, _ in sources],
        "published": published,
        "keys": sorted(keys),
        "template_keys": sorted(read - keys),
        "open_maps": sorted(open_maps),
        "arg_maps": arg_maps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git", action="append", default=[], metavar="OWNER/REPO=DIR")
    clones = dict(item.split("=", 1) for item in parser.parse_args().git)
    header = "# Generated by tests/upstream/extract.py from `source`; do not edit by hand.\n"
    for chart in CHARTS:
        out = HERE / "chart_values" / f"{chart}-{CHARTS[chart][0]}.yaml"
        out.parent.mkdir(exist_ok=True)
        out.write_text(header + yaml.safe_dump(chart_keys(clones, chart), sort_keys=False))
    for repo, tag, path in CRDS:
        out = HERE / "crds" / tag / Path(path).name
        out.parent.mkdir(parents=True, exist_ok=True)
        source = f"# Vendored verbatim from https://github.com/{repo}/blob/{tag}/{path}\n"
        out.write_text(source + _show(clones, repo, tag, path))


if __name__ == "__main__":
    main()
