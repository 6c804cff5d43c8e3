"""Regenerates the vendored upstream facts under tests/upstream/ from the charts' own
repositories, at the tags named below. Run it after re-pinning a chart:

    python tests/upstream/extract.py --git prometheus-community/helm-charts=/path/to/clone \\
        --git grafana/helm-charts=... --git NVIDIA/gpu-operator=... --git kubernetes/autoscaler=... \\
        --git cloudnative-pg/charts=... --git argoproj/argo-helm=... \\
        --git aws/aws-node-termination-handler=... --git kubernetes-sigs/jobset=...

Each --git names a local clone (bare is fine) holding the tags. Nothing here is used by the
program; the tests read what this writes.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CATALOG = HERE.parent.parent / "components" / "catalog" / "kubernetes_versions.yaml"
# The chart versions the platform pins (components/catalog/versions.yaml): an upgrade edits
# that row and reruns this script.
VERSIONS = {
    r["id"]: r["value"]
    for r in yaml.safe_load((CATALOG.parent / "versions.yaml").read_text())["versions"]
}
KPS = f"kube-prometheus-stack-{VERSIONS['kube-prometheus-stack']}"
ADAPTER = f"prometheus-adapter-{VERSIONS['prometheus-adapter']}"
GPU_OPERATOR = VERSIONS["gpu-operator"]
AUTOSCALER = "kubernetes/autoscaler"
# aws-node-termination-handler chart 0.27.6 is appVersion 1.25.6, tag v1.25.6 of its repository.
NTH_TAG = "v1.25.6"


@dataclass(frozen=True)
class Pin:
    """A pinned chart: its values.yaml files (repo, tag, path, key prefix) and, for maps
    its templates turn into command-line flags, the program source defining them."""

    chart: str
    version: str
    sources: list[tuple[str, str, str, str]]
    # repo, ref and path of a Helm repository index listing the version; None when the
    # chart is released by chart-releaser, whose release tag is the publication.
    index: tuple[str, str, str] | None = None
    arg_maps: dict[str, tuple[str, str, list[str]]] = field(default_factory=dict)
    # Set where Chart.yaml has no appVersion and the release sets it when packaging.
    app_version: str | None = None


def autoscaler_pins() -> list[Pin]:
    """One per EKS row of the catalog: the chart it pins, whose templates/deployment.yaml
    turns every extraArgs key into `--<key>`, and the flags of the image tag it pins."""
    rows = yaml.safe_load(CATALOG.read_text())["versions"]
    pins = {}
    for row in rows:
        if row["platform"] != "eks":
            continue
        chart, image = row["cluster_autoscaler_chart"], row["cluster_autoscaler_image"]
        tag = f"cluster-autoscaler-chart-{chart}"
        flags_at = f"cluster-autoscaler-{image.removeprefix('v')}"
        pins[chart] = Pin(
            "cluster-autoscaler",
            chart,
            [(AUTOSCALER, tag, "{charts}/cluster-autoscaler/values.yaml", "")],
            index=(AUTOSCALER, "gh-pages", "index.yaml"),
            arg_maps={
                "extraArgs": (
                    AUTOSCALER,
                    flags_at,
                    ["cluster-autoscaler/main.go", "cluster-autoscaler/config/flags/flags.go"],
                )
            },
        )
    return list(pins.values())


# kube-prometheus-stack 65.1.1 takes grafana "8.5.*" (its Chart.yaml), so its grafana keys
# are those every 8.5.x release has.
PINS = [
    Pin(
        "kube-prometheus-stack",
        VERSIONS["kube-prometheus-stack"],
        [("prometheus-community/helm-charts", KPS, "charts/kube-prometheus-stack/values.yaml", "")]
        + [
            ("grafana/helm-charts", f"grafana-8.5.{n}", "charts/grafana/values.yaml", "grafana")
            for n in range(13)
        ],
    ),
    Pin(
        "prometheus-adapter",
        VERSIONS["prometheus-adapter"],
        [
            (
                "prometheus-community/helm-charts",
                ADAPTER,
                "charts/prometheus-adapter/values.yaml",
                "",
            )
        ],
    ),
    Pin(
        "cloudnative-pg",
        VERSIONS["cloudnative-pg"],
        [
            (
                "cloudnative-pg/charts",
                f"cloudnative-pg-v{VERSIONS['cloudnative-pg']}",
                "charts/cloudnative-pg/values.yaml",
                "",
            )
        ],
    ),
    Pin(
        "argo-rollouts",
        VERSIONS["argo-rollouts"],
        [
            (
                "argoproj/argo-helm",
                f"argo-rollouts-{VERSIONS['argo-rollouts']}",
                "charts/argo-rollouts/values.yaml",
                "",
            )
        ],
    ),
    # Published to oci://public.ecr.aws/aws-ec2/helm (the chart's README); the chart lives in
    # the program's own repository, tagged with the program's version (appVersion).
    Pin(
        "aws-node-termination-handler",
        VERSIONS["aws-node-termination-handler"],
        [
            (
                "aws/aws-node-termination-handler",
                NTH_TAG,
                "config/helm/aws-node-termination-handler/values.yaml",
                "",
            )
        ],
    ),
    # JobSet's Chart.yaml has no appVersion: hack/helm-chart-package.sh packages the chart with
    # `--app-version "${GIT_TAG}"` (and the image tag set to it), so v<version>.
    Pin(
        "jobset",
        VERSIONS["jobset"],
        [("kubernetes-sigs/jobset", f"v{VERSIONS['jobset']}", "charts/jobset/values.yaml", "")],
        app_version=f"v{VERSIONS['jobset']}",
    ),
    Pin(
        "gpu-operator",
        GPU_OPERATOR,
        [("NVIDIA/gpu-operator", GPU_OPERATOR, "deployments/gpu-operator/values.yaml", "")],
        index=("NVIDIA/gpu-operator", "gh-pages", "stable/index.yaml"),
    ),
]
VALUES_REF = re.compile(r"\.Values\.([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)")
# flag.Bool("name", ...), flag.Var(&v, "name", ...) and helpers such as multiStringFlag("name").
FLAG = re.compile(r'(?:flag\.\w+\((?:[&\w.]+,\s*)?|\w+Flag\()"([a-z0-9-]+)"')
CRDS = [
    (
        "prometheus-community/helm-charts",
        KPS,
        f"charts/kube-prometheus-stack/charts/crds/crds/crd-{name}.yaml",
    )
    for name in ("servicemonitors", "prometheusrules")
]
# The CloudNativePG chart ships every CRD in one template behind `crds.create`; the ones we
# render are cut out of it, each document verbatim.
CNPG = f"cloudnative-pg-{VERSIONS['cloudnative-pg']}"
CNPG_CRDS = (
    "cloudnative-pg/charts",
    f"cloudnative-pg-v{VERSIONS['cloudnative-pg']}",
    "charts/cloudnative-pg/templates/crds/crds.yaml",
    ("clusters", "scheduledbackups"),
)

# The Argo Rollouts chart ships each CRD as a template of its own behind `installCRDs`, with
# `keepCRDs` and `crdAnnotations` editing the annotations. Vendored as the chart renders them
# with its default values (installCRDs and keepCRDs true, crdAnnotations empty): only those
# template lines are dropped, every other line is verbatim.
ARGO = f"argo-rollouts-{VERSIONS['argo-rollouts']}"
ARGO_CRDS = (
    "argoproj/argo-helm",
    ARGO,
    "charts/argo-rollouts/templates/crds",
    ("rollout", "analysis-template", "analysis-run", "experiment", "cluster-analysis-template"),
)
ARGO_DEFAULTS = {
    "{{- if .Values.installCRDs }}": "",
    "{{- if .Values.keepCRDs }}": "",
    "{{- if .Values.crdAnnotations }}": "drop",
    "{{- toYaml .Values.crdAnnotations | nindent 4 }}": "",
    "{{- end }}": "",
}


def render_argo_crd(template: str) -> str:
    """The CRD as `helm template` writes it with the chart's default values."""
    out, dropping = [], False
    for line in template.splitlines():
        directive = line.strip()
        if directive.startswith("{{"):
            if directive not in ARGO_DEFAULTS:
                raise SystemExit(f"unexpected template line in an Argo Rollouts CRD: {line}")
            dropping = ARGO_DEFAULTS[directive] == "drop" or (dropping and directive != "{{- end }}")
            continue
        if not dropping:
            out.append(line)
    return "\n".join(out) + "\n"


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


def _resolve(clones: dict[str, str], repo: str, tag: str, path: str) -> str:
    """The chart moved from charts/ to cluster-autoscaler/charts/ in kubernetes/autoscaler."""
    if "{charts}" not in path:
        return path
    for where in ("charts", "cluster-autoscaler/charts"):
        candidate = path.format(charts=where)
        if _exists(clones, repo, tag, candidate):
            return candidate
    raise SystemExit(f"{path} not found at {repo}@{tag}")


def chart_keys(clones: dict[str, str], pin: Pin) -> dict[str, Any]:
    sources = [(r, t, _resolve(clones, r, t, p), x) for r, t, p, x in pin.sources]
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
    repo, tag, path, _ = sources[0]
    chart_yaml = yaml.safe_load(_show(clones, repo, tag, str(Path(path).parent / "Chart.yaml")))
    published = [f"https://github.com/{repo}/releases/tag/{tag}"]
    if pin.index:
        repo, ref, index = pin.index
        entries = yaml.safe_load(_show(clones, repo, ref, index))["entries"][pin.chart]
        listed = {e["version"]: e for e in entries}
        if pin.version not in listed:
            raise SystemExit(f"{pin.chart} {pin.version} is not in {repo}@{ref}:{index}")
        chart_yaml = listed[pin.version]  # the packaged chart's own metadata
        published = [f"https://github.com/{repo}/blob/{ref}/{index}"]
    arg_maps = {}
    for key, (repo, tag, files) in pin.arg_maps.items():
        found = [f for f in files if _exists(clones, repo, tag, f)]
        arg_maps[key] = {
            "source": [f"https://github.com/{repo}/blob/{tag}/{f}" for f in found],
            "flags": sorted({n for f in found for n in FLAG.findall(_show(clones, repo, tag, f))}),
        }
    return {
        "chart": pin.chart,
        "version": pin.version,
        "app_version": pin.app_version or str(chart_yaml["appVersion"]),
        "source": [f"https://github.com/{r}/blob/{t}/{p}" for r, t, p, _ in sources],
        "published": published,
        "keys": sorted(keys),
        "template_keys": sorted(read - keys),
        "open_maps": sorted(open_maps),
        "arg_maps": arg_maps,
    }


def _exists(clones: dict[str, str], repo: str, tag: str, path: str) -> bool:
    check = ["git", "-C", clones[repo], "cat-file", "-e", f"{tag}:{path}"]
    return subprocess.run(check, check=False, capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git", action="append", default=[], metavar="OWNER/REPO=DIR")
    clones = dict(item.split("=", 1) for item in parser.parse_args().git)
    header = "# Generated by tests/upstream/extract.py from `source`; do not edit by hand.\n"
    out_dir = HERE / "chart_values"
    out_dir.mkdir(exist_ok=True)
    for old in out_dir.glob("*.yaml"):
        old.unlink()
    for pin in PINS + autoscaler_pins():
        out = out_dir / f"{pin.chart}-{pin.version}.yaml"
        out.write_text(header + yaml.safe_dump(chart_keys(clones, pin), sort_keys=False))
    for repo, tag, path in CRDS:
        out = HERE / "crds" / tag / Path(path).name
        out.parent.mkdir(parents=True, exist_ok=True)
        source = f"# Vendored verbatim from https://github.com/{repo}/blob/{tag}/{path}\n"
        out.write_text(source + _show(clones, repo, tag, path))
    repo, tag, path, plurals = CNPG_CRDS
    for doc in _show(clones, repo, tag, path).split("\n---\n"):
        name = re.search(r"^  name: (\w+)\.postgresql\.cnpg\.io$", doc, re.MULTILINE)
        if name is None or name.group(1) not in plurals:
            continue
        out = HERE / "crds" / CNPG / f"crd-{name.group(1)}.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        source = f"# Cut verbatim from https://github.com/{repo}/blob/{tag}/{path}\n---\n"
        out.write_text(source + doc.strip("\n") + "\n")
    write_argo_crds(clones)
    write_jobset_crd(clones)


# The JobSet chart ships its one CRD as a plain file under crds/ (Helm installs it first and
# never templates it), vendored verbatim with a SOURCE file naming the tag and commit.
JOBSET = f"jobset-{VERSIONS['jobset']}"
JOBSET_CRD = (
    "kubernetes-sigs/jobset",
    f"v{VERSIONS['jobset']}",
    "charts/jobset/crds/jobset.x-k8s.io_jobsets.yaml",
)


def write_jobset_crd(clones: dict[str, str]) -> None:
    repo, tag, path = JOBSET_CRD
    out = HERE / "crds" / JOBSET / "crd-jobsets.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        f"# Vendored verbatim from https://github.com/{repo}/blob/{tag}/{path}\n"
        + _show(clones, repo, tag, path)
    )
    commit = subprocess.run(
        ["git", "-C", clones[repo], "rev-list", "-n", "1", tag],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    (out.parent / "SOURCE").write_text(
        f"crd-jobsets.yaml: https://github.com/{repo}/blob/{tag}/{path}\n"
        f"tag {tag} = commit {commit}; the chart oci://registry.k8s.io/jobset/charts/jobset "
        f"version {VERSIONS['jobset']} installs it from crds/.\n"
        "Written by tests/upstream/extract.py (write_jobset_crd); do not edit by hand.\n"
    )


def write_argo_crds(clones: dict[str, str]) -> None:
    repo, tag, folder, names = ARGO_CRDS
    for name in names:
        path = f"{folder}/{name}-crd.yaml"
        out = HERE / "crds" / ARGO / f"crd-{name}.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        source = (
            f"# Rendered from https://github.com/{repo}/blob/{tag}/{path} with the chart's default\n"
            "# values (tests/upstream/extract.py render_argo_crd): only template lines dropped.\n"
        )
        out.write_text(source + render_argo_crd(_show(clones, repo, tag, path)))


if __name__ == "__main__":
    main()
