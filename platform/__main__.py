"""The Pulumi program: stack config -> EnvironmentSpec -> topology.build -> exports."""

import pulumi

from components import spec as spec_module
from components import topology

try:
    env = spec_module.load_spec(pulumi.Config().get_object("spec"))
except spec_module.SpecError as err:
    for line in err.problems:
        pulumi.log.error(line)
    raise pulumi.RunError(f"invalid stack config: {len(err.problems)} problem(s)") from None

for warning in env.warnings:
    pulumi.log.warn(warning)

for key, value in topology.build(env).items():
    pulumi.export(key, value)
