"""Argo Rollouts' basic-canary replica arithmetic (components/canary.py), against Argo's own
test table and against figures worked out here by hand."""

from __future__ import annotations

import pytest

from components import canary

# argoproj/argo-rollouts@v1.9.0 utils/replicaset/canary_test.go,
# TestCalculateReplicaCountsForCanary: the cases whose pods are all available, with no
# older ReplicaSet and integer maxSurge/maxUnavailable (a percentage resolved: 20% of 10 is
# 2). (replicas, setWeight, maxSurge, maxUnavailable, stable, canary) -> (canary, stable).
UPSTREAM = [
    ((10, 20, 2, 0, 10, 0), (2, 10)),  # "Use max surge int to scale up canary"
    ((10, 20, 2, 0, 10, 2), (2, 8)),  # "Scale down extra stable replicas"
    ((10, 30, 2, 0, 10, 0), (2, 10)),  # "Do not go past max surge"
    ((10, 20, 0, 2, 10, 0), (0, 8)),  # "Use max unavailable int to scale down stableRS"
    ((10, 30, 0, 2, 10, 0), (0, 8)),  # "Do not go past max unavailable"
    ((10, 50, 2, 1, 10, 0), (2, 9)),  # "Use Max Surge and Max Unavailable"
    ((10, 0, 1, 1, 10, 1), (0, 10)),  # "Scale canaryRS to zero on setWeight of 0%"
    ((10, 100, 1, 1, 1, 10), (10, 0)),  # "Scale stable to zero on setWeight of 100%"
    ((1, 20, 1, 0, 1, 0), (1, 1)),  # "Do not scale canaryRS down to zero on non-zero weight"
    ((1, 90, 1, 0, 1, 0), (1, 1)),  # "... on non-100 weight"
    ((1, 49, 0, 1, 1, 0), (0, 1)),  # "Scale canaryRS to zero on <50 weight without surge"
    ((1, 51, 0, 1, 1, 0), (0, 0)),  # "Scale stableRS down to zero on >=50 weight ..."
    ((1, 51, 0, 1, 0, 0), (1, 0)),  # "Scale canaryRS to one on >=50 weight ..."
    ((10, 5, 0, 1, 10, 0), (0, 9)),  # "Do not round past maxSurge with uneven ..."
    ((10, 5, 0, 1, 9, 0), (1, 9)),  # "... (part 2)"
    ((3, 99, 0, 2, 3, 0), (0, 1)),  # "scale down to maxunavailable without exceeding maxSurge"
    ((4, 0, 1, 0, 0, 4), (4, 1)),  # "honor maxUnavailable when aborting ... part 1"
    ((4, 0, 1, 0, 1, 4), (3, 1)),  # "... part 3"
]


@pytest.mark.parametrize(("given", "expected"), UPSTREAM)
def test_one_pass_matches_argo_rollouts_own_table(given, expected):
    replicas, weight, surge, unavailable, stable, canary_pods = given
    assert canary.reconcile(replicas, weight, canary_pods, stable, surge, unavailable) == expected


def test_four_replicas_through_the_seeds_steps():
    # maxSurge 1, maxUnavailable 0, 4 replicas.
    # 5%: 4 x 0.05 = 0.2 -> ceil 1, floor 0 (not allowed: a weight of 1-99 keeps a canary).
    #   Options (1 of 4) = 25% (off by 20) and, with the surge, (1 of 5) = 20% (off by 15):
    #   1 canary + 4 stable, 5 pods, 20%.
    # 25%: 4 x 0.25 = 1 exactly: (1 of 4) = 25%: stable goes 4 -> 3, 4 pods, 25%.
    # 50%: 2 of 4 exactly. From (1, 3): the surge allows 5 pods, so canary 1 -> 2 (5 pods),
    #   then stable 3 -> 2: peak 5.
    # promotion to 100%: 4 of 4, stable 0, again through 5 pods.
    shares = canary.step_shares(4, [5, 25, 50])
    assert [(s.weight_pct, s.canary, s.stable, s.peak_pods) for s in shares] == [
        (5, 1, 4, 5), (25, 1, 3, 5), (50, 2, 2, 5), (100, 4, 0, 5)]
    assert [s.text() for s in shares[:3]] == [
        "step 5% → 20%: 1 of 5 pods", "step 25% → 25%: 1 of 4 pods", "step 50% → 50%: 2 of 4 pods"]


def test_one_replica_gets_half_the_traffic_at_every_step():
    # 1 replica: any weight of 1-99 keeps one stable and one canary pod (the surge), 50%.
    shares = canary.step_shares(1, [5, 25, 50])
    assert [s.text() for s in shares[:3]] == ["step 5% → 50%: 1 of 2 pods"] + [
        "step 25% → 50%: 1 of 2 pods", "step 50% → 50%: 1 of 2 pods"]


def test_ten_replicas_come_close_to_the_weights():
    # 5% of 10 = 0.5, a tie between 0 and 1: floor dropped, ceil 1: (1 of 10) off by 5,
    #   (1 of 11) = 9.09% off by 4.09 -> 1 of 11.
    # 25% of 10 = 2.5, a tie: (3 of 10) off by 5; surge 25% of 11 = 2.75: (3 of 11) = 27.3%
    #   off by 2.27, (2 of 11) = 18.2% off by 6.8 -> 3 of 11.
    # 50% of 10 = 5: 5 of 10.
    shares = canary.step_shares(10, [5, 25, 50])
    assert [(s.canary, s.pods) for s in shares] == [(1, 11), (3, 11), (5, 10), (10, 10)]
    assert shares[1].text() == "step 25% → 27%: 3 of 11 pods"


@pytest.mark.parametrize("replicas", [1, 2, 3, 4, 7, 10])
def test_the_rollout_needs_two_pods_beyond_the_replicas(replicas):
    # maxSurge 1 caps every step at replicas + 1 pods, and the first step's surge pod can
    # start while the eval gate's candidate pod is still scaling down: 2 pods at most.
    assert canary.extra_pods(replicas, [5, 25, 50]) == 2
    assert canary.extra_gpus(replicas, [5, 25, 50], gpus_per_pod=4) == 8


def test_a_tie_goes_to_the_larger_canary():
    # 3 replicas at 50% without a surge: 1.5, a tie between 1 (33%) and 2 (67%): the floor
    # is dropped, so 2 canary and 1 stable. 4 at 50%: 2 of 4 exactly.
    assert canary.approximate(3, 50, max_surge=0) == (2, 1)
    assert canary.approximate(4, 50, max_surge=0) == (2, 2)
