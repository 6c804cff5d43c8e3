"""The harness's one series on the Pushgateway: a run's preemptions, as a counter."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, push_to_gateway
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from components.lifecycle.cli import PUSH_TIMEOUT_SECONDS, first_line

# components/observability/metrics.py SPOT_INTERRUPTIONS, which the alert SpotInterruptionsHigh
# and the GPU dashboard read (this image does not ship the observability package; the tests
# hold the two names equal).
SPOT_INTERRUPTIONS = "llm_training_spot_interruptions_total"


class _Count(Collector):
    def __init__(self, value: int):
        self.value = value

    def collect(self) -> Iterator[CounterMetricFamily]:
        # A counter family named without `_total` exposes the sample `<name>_total`, and with
        # no `created` no `_created` sample (prometheus-client==0.26.0 metrics_core.py:102-127).
        yield CounterMetricFamily(SPOT_INTERRUPTIONS, "Preemptions a training run survived, "
                                  "kept in its state.json", value=self.value)


def push_spot_interruptions(gateway: str, job: str, pool: str, count: int) -> str | None:
    """Push the count with the grouping key {job, pool} (runbooks/operations.md); None, or
    why it failed. A push replaces the group's series (PUT: exposition.py:620-660), so each
    attempt of a run pushes the whole count, read from the store, not an increment."""
    registry = CollectorRegistry()
    registry.register(_Count(count))
    try:
        push_to_gateway(gateway, job=job, registry=registry, grouping_key={"pool": pool},
                        timeout=PUSH_TIMEOUT_SECONDS)
    except (OSError, ValueError) as err:  # urllib's URLError is an OSError
        return f"pushgateway {gateway}: {first_line(err)}"
    return None
