"""The serving engines, one module each, behind the interface in `base`. Pure: no Pulumi."""

from __future__ import annotations

from components.engines.base import (  # noqa: F401
    HTTP_PORT,
    MODELS_MOUNT,
    PRESTOP_SLEEP_S,
    SCRATCH_MOUNT,
    TEARDOWN_MARGIN_S,
    Engine,
    Probes,
    Shutdown,
    drain_shutdown,
)
from components.engines.sglang import Sglang  # noqa: F401
from components.engines.tgi import Tgi  # noqa: F401
from components.engines.trtllm import TRTLLM_MODEL, TritonTrtllm  # noqa: F401
from components.engines.vllm import Vllm  # noqa: F401

# Spec engine.kind -> the engine; the order is the Prometheus Adapter rules' order.
ENGINES: dict[str, Engine] = {
    e.name: e for e in (Vllm(), TritonTrtllm(), Tgi(), Sglang())
}
