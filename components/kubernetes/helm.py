"""One way to install a pinned Helm chart, whether the provider applies to a cluster or
renders manifests to a directory (`cluster.render_to_directory`).

`helm.v3.Release` installs through Helm's own client and never looks at the provider's
`renderYamlToDirectory`: its Create fails when the cluster is unreachable and otherwise
installs for real (pulumi-kubernetes provider/pkg/provider/helm_release.go, `Create`, at
v4.32.0; pulumi/pulumi-kubernetes#1716 is the open request to change that). So a
rendering provider gets a `helm.v4.Chart` instead: the provider templates the chart and
registers each object as an ordinary resource, which it writes to the directory like every
other (provider/pkg/provider/helm/v4/chart.go and provider_construct.go, v4.32.0). The
Chart drops Helm hooks (`cmd.DisableHooks = true` there), so a chart installed this way
must be given values that need none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# A chart published to an OCI registry is named by its full reference and no repository:
# `chart: "oci://example.com/charts/nginx", version: "1.2.3"` (Pulumi Registry,
# kubernetes.helm.sh/v4.Chart "Chart Resolution"; the same `chart` input of helm.v3.Release).
OCI = "oci://"


@dataclass(frozen=True)
class PinnedChart:
    chart: str
    version: str
    repo: str  # an https Helm repository, or an oci:// registry path the chart is under

    @property
    def reference(self) -> str:
        """What Helm is given as the chart: its name in `repo`, or its OCI reference."""
        return f"{self.repo}/{self.chart}" if self.repo.startswith(OCI) else self.chart

    @property
    def repository(self) -> str | None:
        return None if self.repo.startswith(OCI) else self.repo


def install(
    name: str,
    *,
    release: str,
    pinned: PinnedChart,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    renders: bool,
    opts: pulumi.ResourceOptions,
) -> pulumi.Resource:
    """The chart as a Helm release, or as rendered objects when the provider renders.

    Either way `depends_on` this resource waits for everything the chart installs."""
    if renders:
        return k8s.helm.v4.Chart(
            name,
            k8s.helm.v4.ChartArgs(
                name=release,
                chart=pinned.reference,
                version=pinned.version,
                namespace=namespace,
                repository_opts=_opts(k8s.helm.v4.RepositoryOptsArgs, pinned),
                values=dict(values),
            ),
            opts=opts,
        )
    return k8s.helm.v3.Release(
        name,
        name=release,
        chart=pinned.reference,
        version=pinned.version,
        namespace=namespace,
        repository_opts=_opts(k8s.helm.v3.RepositoryOptsArgs, pinned),
        values=dict(values),
        opts=opts,
    )


def _opts(kind: Any, pinned: PinnedChart) -> Any:
    return None if pinned.repository is None else kind(repo=pinned.repository)


def install_in_namespace(
    name: str,
    *,
    release: str,
    pinned: PinnedChart,
    namespace: str,
    namespace_labels: dict[str, str],
    values: Mapping[str, Any],
    renders: bool,
    opts: pulumi.ResourceOptions,
    depends_on: Sequence[pulumi.Resource] = (),
) -> pulumi.Resource:
    """A controller's own namespace, then its chart there (after `depends_on` too): what its
    custom resources `depends_on`."""
    ns = k8s.core.v1.Namespace(
        f"{name}-ns",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace, labels=namespace_labels),
        opts=opts,
    )
    return install(
        name,
        release=release,
        pinned=pinned,
        namespace=ns.metadata.name,
        values=values,
        renders=renders,
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[ns, *depends_on])
        ),
    )
