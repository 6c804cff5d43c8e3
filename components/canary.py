"""How many pods a basic canary runs at each step: Argo Rollouts' replica arithmetic for a
canary with no trafficRouting, where the canary's share of traffic is its share of the
pods behind the model's Service. Pure: no Pulumi, no Kubernetes.

Ported from argoproj/argo-rollouts@v1.9.0 utils/replicaset/canary.go:
CalculateReplicaCountsForBasicCanary (lines 124-211), approximateWeightedCanaryStableReplicaCounts
(218-273), floorCeilingTied (279-282), weightDelta (286-289), calculateScaleDownReplicaCount
(294-301) and adjustReplicaWithinLimits (306-339), for a Rollout with a stable and a canary
ReplicaSet and no older one, whose pods are available as soon as they exist (a pod that is
slow to start only holds the step longer; it never adds pods: the total is capped at
replicas + maxSurge, line 148).

The Rollout this assumes sets `canary.maxSurge: 1` and `canary.maxUnavailable: 0` (as the
model server's Deployment does when it may surge, components/kubernetes/model_server/pod.py
rollout_strategy): the stable side never drops below the planned replicas, so users keep
their capacity, and the canary costs at most one pod more than them. Argo's own defaults
(utils/defaults/defaults.go:24-26, the strings "25") are not relied on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAX_SURGE = 1
MAX_UNAVAILABLE = 0
# utils/weightutil/weight.go:7-13: 100 unless a traffic router sets maxTrafficWeight.
MAX_WEIGHT = 100
# The eval gate's experiment runs one candidate pod (step 0, before any traffic). Once it
# finishes, its ReplicaSet scales down only after the experiment's scaleDownDelaySeconds
# (default 30: utils/defaults/defaults.go:30,182-187; experiments/replicaset.go:221-235),
# while the first traffic step already scales the canary up: the two can overlap.
CANDIDATE_PODS = 1


@dataclass(frozen=True)
class StepShare:
    """One traffic step once the rollout has settled at it."""

    weight_pct: int  # the step's setWeight
    canary: int  # canary pods
    stable: int  # stable pods
    peak_pods: int  # the most pods, canary and stable, on the way to this step

    @property
    def pods(self) -> int:
        return self.canary + self.stable

    @property
    def share_pct(self) -> float:
        """The canary's effective share of requests: its share of the Service's pods."""
        return 100 * self.canary / self.pods

    def text(self) -> str:
        """`step 5% → 20%: 1 of 5 pods`, as the plan prints it."""
        return (
            f"step {self.weight_pct}% → {self.share_pct:.0f}%: "
            f"{self.canary} of {self.pods} pods"
        )


def _tied(weight: int, total: int) -> bool:
    # floorCeilingTied, canary.go:279-282: total x weight / max lands exactly on a half.
    return math.modf(total * (weight / MAX_WEIGHT))[0] == 0.5


def _delta(weight: int, canary: int, total: int) -> float:
    # weightDelta, canary.go:286-289.
    return abs(canary * MAX_WEIGHT / total - weight)


def approximate(replicas: int, weight: int, max_surge: int = MAX_SURGE) -> tuple[int, int]:
    """The canary and stable counts closest to `weight` (approximateWeightedCanaryStable
    ReplicaCounts, canary.go:218-273): replicas or, with a surge, replicas + 1 pods in all,
    at least one of each for a weight of 1 to 99, the larger canary on a tie."""
    if replicas == 0:
        return 0, 0
    ceil = math.ceil(replicas * weight / MAX_WEIGHT)
    floor = math.floor(replicas * weight / MAX_WEIGHT)
    zero_allowed = weight in (MAX_WEIGHT, 0) or (replicas == 1 and max_surge == 0)
    options: list[tuple[int, int]] = []
    if ceil < replicas or zero_allowed:
        options.append((ceil, replicas))
    if not _tied(weight, replicas) and (floor != 0 or zero_allowed):
        options.append((floor, replicas))
    if max_surge > 0:
        options.append((ceil, replicas + 1))
        if not _tied(weight, replicas + 1) and (floor != 0 or zero_allowed):
            options.append((floor, replicas + 1))
    if not options:
        return 0, replicas  # canary.go:257-260, "should not get here"
    # The first of the closest wins: the loop at canary.go:264-271 replaces only on `<`.
    best = min(options, key=lambda o: _delta(weight, o[0], o[1]))
    return best[0], best[1] - best[0]


def reconcile(
    replicas: int,
    weight: int,
    canary: int,
    stable: int,
    max_surge: int = MAX_SURGE,
    max_unavailable: int = MAX_UNAVAILABLE,
) -> tuple[int, int]:
    """One pass of CalculateReplicaCountsForBasicCanary (canary.go:124-211): the canary and
    stable counts the controller sets now, from the current ones."""
    want_canary, want_stable = approximate(replicas, weight, max_surge)
    new_canary, new_stable = canary, stable
    allowed = replicas + max_surge
    scale_up = allowed - (canary + stable)
    # Stable first, then the canary, each up to what it wants (lines 158-180).
    if stable < want_stable and scale_up > 0:
        new_stable = min(stable + scale_up, want_stable)
        scale_up -= new_stable - stable
    if canary < want_canary and scale_up > 0:
        new_canary = min(canary + scale_up, want_canary)
    min_available = replicas - max_unavailable
    increasing = want_canary >= canary
    # Every pod is available, so GetReplicasForScaleDown (lines 462-478) is the spec count.
    to_scale_down = canary + stable
    if to_scale_down <= min_available:
        return new_canary, new_stable
    scale_down = to_scale_down - min_available
    if not increasing:
        if canary > want_canary:
            new_canary = max(want_canary, canary - scale_down)
        new_canary, new_stable = _within_limits(
            canary, stable, new_canary, new_stable, allowed, min_available
        )
    else:
        if stable > want_stable:
            new_stable = max(want_stable, stable - scale_down)
        new_stable, new_canary = _within_limits(
            stable, canary, new_stable, new_canary, allowed, min_available
        )
    return new_canary, new_stable


def _within_limits(
    drain_now: int, adjust_now: int, drain: int, adjust: int, allowed: int, min_available: int
) -> tuple[int, int]:
    """adjustReplicaWithinLimits (canary.go:306-339), each ReplicaSet's available pods
    being its current count."""
    over = max(0, adjust + drain - allowed)
    available = min(drain_now, drain)
    adjust -= over
    available += min(adjust_now, adjust)
    extra_available = max(0, adjust_now - adjust)
    more_needed = max(0, min_available - available)
    adjust += min(extra_available, more_needed)
    over = max(0, adjust + drain - allowed)
    return drain - over, adjust


def settle(
    replicas: int, weight: int, canary: int, stable: int, max_surge: int = MAX_SURGE
) -> StepShare:
    """Reconcile from (canary, stable) until nothing changes: where the step settles, and
    the most pods it held on the way."""
    peak = canary + stable
    for _ in range(4 * (replicas + max_surge) + 4):  # each pass moves at least one pod
        nxt = reconcile(replicas, weight, canary, stable, max_surge)
        peak = max(peak, sum(nxt))
        if nxt == (canary, stable):
            return StepShare(weight, canary, stable, peak)
        canary, stable = nxt
    raise ValueError(f"replicas {replicas}, weight {weight}: the canary counts never settle")


def step_shares(
    replicas: int, weights: Sequence[int], max_surge: int = MAX_SURGE
) -> list[StepShare]:
    """Each traffic step in turn, from all `replicas` pods on stable, then the promotion to
    100% (the last entry)."""
    canary, stable = 0, replicas
    shares = []
    for weight in (*weights, MAX_WEIGHT):
        share = settle(replicas, weight, canary, stable, max_surge)
        shares.append(share)
        canary, stable = share.canary, share.stable
    return shares


def extra_pods(replicas: int, weights: Sequence[int], max_surge: int = MAX_SURGE) -> int:
    """Pods the rollout runs beyond `replicas` at its busiest: the candidate pod of the
    eval gate, which may still hold its GPUs when the first step scales the canary up, or
    any later step's surge."""
    shares = step_shares(replicas, weights, max_surge)
    first = shares[0].peak_pods - replicas + CANDIDATE_PODS
    return max(first, *(s.peak_pods - replicas for s in shares))


def extra_gpus(
    replicas: int, weights: Sequence[int], gpus_per_pod: int, max_surge: int = MAX_SURGE
) -> int:
    """GPUs the rollout needs beyond the planned `replicas` (extra_pods x GPUs per pod)."""
    return extra_pods(replicas, weights, max_surge) * gpus_per_pod
