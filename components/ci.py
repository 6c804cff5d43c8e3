"""Where the GitHub workflows run a stack's jobs that reach its cluster, and whether a merge
deploys it: the runner from `ci.runner`, the reasons a deploy is skipped (render mode,
`ci.deploy: false`) and the reason a job on that runner cannot reach the cluster at all (a
private endpoint and GitHub's hosted runner, which is outside every network). Read by
`llm-platform ci-targets` for deploy.yml and preview.yml. Pure: no Pulumi import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components import clouds
from components.spec import Environment, config_path

# The GitHub-hosted runner a stack with no `ci.runner` gets.
GITHUB_HOSTED = "ubuntu-24.04"


@dataclass(frozen=True)
class Target:
    """One stack as the workflows see it. `deploy`: a merge deploys it (a deploy job runs).
    `skip`: why it never does, when it does not. `refuse`: why a job on `runs_on` cannot
    reach its cluster: a deploy job fails at once with it rather than time out, and a
    `pulumi preview` there could not reach the cluster either."""

    stack: str
    runs_on: tuple[str, ...]
    deploy: bool
    skip: str
    refuse: str
    cloud: str

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "runs_on": list(self.runs_on),
            "deploy": self.deploy,
            "skip": self.skip,
            "refuse": self.refuse,
            "cloud": self.cloud,
        }


def target(stack: str, env: Environment) -> Target:
    spec = env.spec
    skip = "; ".join(skip_reasons(env))
    return Target(
        stack=stack,
        runs_on=tuple(spec.ci.runner) or (GITHUB_HOSTED,),
        deploy=not skip,
        skip=skip,
        refuse=refusal(stack, env),
        cloud=spec.cloud or "",
    )


def skip_reasons(env: Environment) -> list[str]:
    spec = env.spec
    reasons = []
    if spec.cluster.render_to_directory is not None:
        reasons.append(
            f"{config_path(('cluster', 'render_to_directory'))} is set: a deploy from CI "
            "would write the manifests to the runner's disk, where they are lost while the "
            "state records them as applied; run `pulumi up` where the rendered directory is "
            "kept and applied"
        )
    if not spec.ci.deploy:
        reasons.append(f"{config_path(('ci', 'deploy'))} is false: merges never deploy it")
    return reasons


def refusal(stack: str, env: Environment) -> str:
    """Why a job on the stack's runner cannot reach the cloud cluster it deploys to (for a
    hybrid, the cloud side's cluster that runs the training pools' GPU runtime), or "".
    An on-prem cluster is reached through the kubeconfig CI is given, from any runner."""
    spec = env.spec
    cloud = clouds.get(spec.cloud) if spec.cloud is not None else None
    if cloud is None or cloud.api_endpoint is None or spec.ci.runner:
        return ""
    endpoint = cloud.api_endpoint
    block = getattr(spec, cloud.name)
    if not endpoint.is_private(block):
        return ""
    runner = config_path(("ci", "runner"))
    if endpoint.public_cidrs_field is None:
        why = "the stack always makes it private"
        ways = f"set {runner} to the labels of a self-hosted runner inside its network"
    else:
        cidrs = config_path((cloud.name, endpoint.public_cidrs_field))
        why = f"{cidrs} is empty"
        ways = (
            f"set {runner} to the labels of a self-hosted runner inside its network, or list "
            f"the runner's public CIDRs in {cidrs}"
        )
    side = f" of its {cloud.label} side" if spec.topology == "hybrid" else ""
    return (
        f"stack {stack}: the {endpoint.cluster} API endpoint{side} is private ({why}), and "
        f"GitHub's hosted runner ({GITHUB_HOSTED}) is outside the {cloud.label} network, so "
        f"`pulumi up` would time out reaching it; {ways}"
    )
