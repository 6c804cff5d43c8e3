"""The Pulumi program: stack config -> EnvironmentSpec -> topology.build -> exports."""

import pulumi

from components import clouds, topology
from components import spec as spec_module


def _fail(problems: list[str]) -> None:
    for line in problems:
        pulumi.log.error(line)
    raise pulumi.RunError(f"invalid stack config: {len(problems)} problem(s)")


config = pulumi.Config()
try:
    env = spec_module.load_spec(config.get_object("spec"))
except spec_module.SpecError as err:
    _fail(err.problems)

# A cloud's provider SDK is an optional extra: name the one to install, not a traceback.
try:
    if env.spec.cloud is not None:
        clouds.require_sdk(env.spec.cloud)
except clouds.MissingSdk as err:
    _fail([str(err)])

for warning in env.warnings:
    pulumi.log.warn(warning)

# Receiver credentials and the Grafana password are Pulumi secrets named by the spec; a
# missing one stops the run before anything is created.
secrets = {key: config.get_secret(key) for key in env.spec.secret_keys()}
missing = [
    f"{spec_module.config_path(path)}: Pulumi secret '{spec_module.PROJECT}:{key}' is not set; "
    f"run `pulumi config set --secret {key} <value>`"
    for key, path in env.spec.secret_keys().items()
    if secrets[key] is None
]
if missing:
    _fail(missing)

for key, value in topology.build(env, secrets).items():
    pulumi.export(key, value)
