"""EnvironmentSpec: the one typed description of an environment.

A stack's `llm-platform:spec` config value parses into this. The shape is checked by
pydantic; the checks that need the catalog or the sizing model (does the model fit, is the
GPU known, is min <= max) run in `check`, so `load_spec` reports every problem at once,
one line each, with its config path.
"""

from components.spec.checks import *  # noqa: F403
from components.spec.errors import *  # noqa: F403
from components.spec.types import *  # noqa: F403
