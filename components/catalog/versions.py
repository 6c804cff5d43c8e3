"""The pinned images and Helm charts (versions.yaml), with the engine images (engines.yaml)
and the cluster autoscaler's pins (kubernetes_versions.yaml) presented beside them, so one
call answers "what does this stack run, and where was that checked?".

Each pin is stored once; this module only reads. An upgrade is an edit of one row.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import Field

from components.catalog import _Row, kubernetes_versions, yaml_file
from components.catalog.engine_releases import engine_releases

_HERE = Path(__file__).parent
ENGINE_PREFIX = "engine/"
AUTOSCALER = "cluster-autoscaler"


class Pin(_Row):
    kind: Literal["image", "chart", "engine"]
    # image and engine: registry/repo:tag[@sha256:digest]; chart: the chart version.
    value: str = Field(min_length=1)
    # chart only: the chart's name and the URL of the Helm repository serving it.
    chart: str | None = None
    repo: str | None = None
    # image only: why the value has no digest yet. Only our own images (built in docker/)
    # may give one, until a release pushes them; pinning the digest removes it.
    digest_pending: str | None = None


@cache
def _file() -> dict:
    return yaml_file.read(_HERE / "versions.yaml")


@cache
def own() -> dict[str, Pin]:
    """The rows of versions.yaml alone, with each chart's repo name resolved to its URL."""
    repos = _file()["chart_repos"]
    rows = ({**r, "repo": repos[r["repo"]]} if "repo" in r else r for r in _file()["versions"])
    return {r["id"]: Pin.model_validate(r) for r in rows}


def pin(id_: str) -> Pin:
    return own()[id_]


def image(id_: str) -> str:
    p = pin(id_)
    if p.kind != "image":
        raise KeyError(f"{id_} is a {p.kind} pin, not an image")
    return p.value


class ChartRef(NamedTuple):
    """A chart pin in the order helm.PinnedChart takes it."""

    chart: str
    version: str
    repo: str


def chart(id_: str) -> ChartRef:
    p = pin(id_)
    if p.kind != "chart" or p.chart is None or p.repo is None:
        raise KeyError(f"{id_} is a {p.kind} pin, not a chart")
    return ChartRef(p.chart, p.value, p.repo)


def chart_repo(name: str) -> str:
    return _file()["chart_repos"][name]


def _engines() -> dict[str, Pin]:
    return {
        f"{ENGINE_PREFIX}{e.id}": Pin(
            id=f"{ENGINE_PREFIX}{e.id}", kind="engine", value=e.image, source=e.source,
            as_of=e.as_of,
        )
        for e in engine_releases().values()
    }


def _autoscaler() -> dict[str, Pin]:
    """One chart pin and one image-tag pin per Kubernetes version that names them."""
    repo = chart_repo("autoscaler")
    out: dict[str, Pin] = {}
    for v in kubernetes_versions().values():
        if v.cluster_autoscaler_chart is None or v.cluster_autoscaler_image is None:
            continue
        cite = {"source": v.source, "as_of": v.as_of}
        chart_id, image_id = f"{AUTOSCALER}-chart@{v.id}", f"{AUTOSCALER}-image@{v.id}"
        out[chart_id] = Pin(
            id=chart_id, kind="chart", value=v.cluster_autoscaler_chart, chart=AUTOSCALER,
            repo=repo, **cite,
        )
        # The tag of the chart's default image repository (values key image.tag).
        out[image_id] = Pin(id=image_id, kind="image", value=v.cluster_autoscaler_image, **cite)
    return out


@cache
def versions() -> dict[str, Pin]:
    """Every pin: versions.yaml's rows, each engine's image (`engine/<kind>`) and the
    cluster autoscaler's chart and image per Kubernetes version
    (`cluster-autoscaler-chart@eks-1.35`)."""
    return {**own(), **_engines(), **_autoscaler()}
