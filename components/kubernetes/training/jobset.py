"""The JobSet controller, installed once from its pinned chart where some training job has
more than one worker: the JobSet CRD (jobset.x-k8s.io) and the controller that runs each
JobSet's indexed Jobs.

Every value key is one of the chart's (kubernetes-sigs/jobset charts/jobset/values.yaml at
v0.12.0, vendored as tests/upstream/chart_values/jobset-0.12.0.yaml). The chart has no Helm
hook (no `helm.sh/hook` under charts/jobset at v0.12.0), so a rendered chart is complete.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components import conventions
from components.catalog import versions
from components.kubernetes import helm, pods
from components.kubernetes.training.args import JobSetInstall

# The chart README's example namespace (`helm install jobset charts/jobset --namespace
# jobset-system --create-namespace`): the controller's cluster-wide RBAC and its webhook stay
# out of the workload namespace.
NAMESPACE = "jobset-system"
RELEASE = "jobset"
CHART = "jobset"
CONTROLLER_IMAGE = "jobset-controller"


def chart() -> helm.PinnedChart:
    return helm.PinnedChart(*versions.chart(CHART))


def values() -> dict[str, Any]:
    """The catalog's controller image as the chart's image.repository and image.tag
    (values.yaml lines 24-32; the published chart sets the same, hack/helm-chart-package.sh),
    pulled only when absent. The chart's restricted-profile security contexts
    (controller.securityContext and podSecurityContext) are left as they are."""
    repository, _, tag = versions.image(CONTROLLER_IMAGE).rpartition(":")
    return {"image": {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"}}


def namespace_labels(labels: dict[str, str]) -> dict[str, str]:
    """The controller's pods meet the restricted profile, so its namespace enforces it."""
    return pods.restricted_namespace(
        {**labels, conventions.APP_NAME: NAMESPACE, conventions.APP_COMPONENT: "namespace"}
    )


def install(name: str, args: JobSetInstall, opts: pulumi.ResourceOptions) -> pulumi.Resource:
    """The namespace and the release; what a JobSet `depends_on`."""
    return helm.install_in_namespace(
        name,
        release=RELEASE,
        pinned=chart(),
        namespace=NAMESPACE,
        namespace_labels=namespace_labels(args.labels),
        values=values(),
        renders=args.renders,
        opts=opts,
    )
