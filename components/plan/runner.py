"""Runs platform/__main__.py under Pulumi's own MockMonitor and records every resource."""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks, settings

from components import clouds
from components.plan import wire
from components.spec import CONFIG_KEY, PROJECT, SpecError, load_spec

# Stands in for each Pulumi secret the spec names: the plan has no key to decrypt the
# stack's secrets, and every secret value is redacted from what it records anyway.
SECRET_PLACEHOLDER = "offline-plan-placeholder"
REDACTED = "[secret]"
_SIG = wire.SIG_KEY
_SECRET = wire.SECRET_SIG


def _computed(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Placeholders for the outputs a cloud computes and the program wires into other
    resources (ARNs into policies, a service account's email into an annotation), so the
    plan shows those references instead of dropping them."""
    cloud = clouds.of_type(type_)
    return cloud.computed(type_, name, inputs) if cloud is not None else {}


def _invoke_result(token: str) -> dict[str, Any]:
    """What a cloud API returns for a function the program calls, with no credential:
    enough shape for the SDK to build its result type (an empty list, not a missing field)."""
    cloud = clouds.of_type(token)
    return dict(cloud.invoke_results.get(token, {})) if cloud is not None else {}


@dataclass(frozen=True)
class Recorded:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    # What the engine would hand a policy pack: the inputs in wire form (secrets still in
    # their envelope) and the resources each input was computed from.
    wire: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, list[str]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # The provider reference (`<urn>::<id>`) a custom resource or remote component goes to.
    provider: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "inputs": self.inputs,
            # What the engine creates first: depends_on and every input's source resources.
            "dependencies": sorted(self.dependencies),
        }


def _as_output(type_: str, outputs: dict[str, Any]) -> dict[str, Any]:
    """Where an output's shape differs from the input's, the echo takes the output's, as
    the SDK would fail to read it back otherwise."""
    cloud = clouds.of_type(type_)
    reshape = cloud.as_output.get(type_) if cloud is not None else None
    return reshape(outputs) if reshape else outputs


class _EchoMocks(pulumi.runtime.Mocks):
    """A resource's outputs are its inputs: enough for the program to wire names through.

    The SDK registers resources from a thread pool, so the inputs seen by new_resource are
    kept per thread for the monitor call running on that same thread.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    @property
    def last_inputs(self) -> dict[str, Any]:
        return getattr(self._local, "inputs", {})

    @last_inputs.setter
    def last_inputs(self, value: dict[str, Any]) -> None:
        self._local.inputs = value

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.last_inputs = args.inputs
        outputs = {**_computed(args.typ, args.name, args.inputs), **args.inputs}
        return f"{args.name}-id", _as_output(args.typ, outputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return _invoke_result(args.token), []


class _RecordingMonitor(mocks.MockMonitor):
    """Pulumi's MockMonitor, also keeping the parent and inputs of each registration."""

    def __init__(self, echo: _EchoMocks) -> None:
        super().__init__(echo)
        self.echo = echo
        self.recorded: list[Recorded] = []
        self.loops: set[asyncio.AbstractEventLoop] = set()

    def _thread_loop(self) -> None:
        """The monitor's methods run in the SDK's executor threads, and each gives its thread
        an event loop (`_ensure_event_loop`, pulumi/runtime/mocks.py 3.272.0) that nothing
        closes. Left to the interpreter's last garbage collection, such a loop can be
        finalized after its self-pipe sockets and print a traceback ("Invalid file
        descriptor: -1", seen on a loaded machine). So the monitor makes and keeps them, for
        `close_loops` to close when the run ends; a thread whose loop an earlier run in this
        process closed gets a new one."""
        policy = asyncio.get_event_loop_policy()
        try:
            loop = policy.get_event_loop()
        except RuntimeError:  # none yet in this thread
            loop = None
        if loop is None or loop.is_closed():
            loop = policy.new_event_loop()
            policy.set_event_loop(loop)
        if threading.current_thread() is not threading.main_thread():
            self.loops.add(loop)

    def close_loops(self) -> None:
        for loop in self.loops:
            if not loop.is_running():
                loop.close()
        self.loops.clear()

    def Invoke(self, request):  # noqa: N802 - gRPC method name
        self._thread_loop()
        return super().Invoke(request)

    def ReadResource(self, request):  # noqa: N802 - gRPC method name
        self._thread_loop()
        return super().ReadResource(request)

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        self._thread_loop()
        self.echo.last_inputs = {}
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            wire = json_format.MessageToDict(request.object)
            self.recorded.append(
                Recorded(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    custom=request.custom,
                    inputs=_redact(wire, _plain(self.echo.last_inputs)),
                    wire=wire,
                    dependencies=tuple(request.dependencies),
                    property_dependencies={
                        k: list(v.urns) for k, v in request.propertyDependencies.items()
                    },
                    provider=request.provider,
                )
            )
        return response


def _redact(wire: Any, plain: Any) -> Any:
    """`plain` with every value that was a secret on the wire replaced by REDACTED, keeping
    the shape (a secret map stays a map), so plan.json and the manifests never hold one."""
    if isinstance(wire, dict) and wire.get(_SIG) == _SECRET:
        # The mocks may hand the inputs over still wrapped in the secret envelope.
        if isinstance(plain, dict) and plain.get(_SIG) == _SECRET:
            plain = plain.get("value")
        return _mask(plain)
    if isinstance(wire, dict) and isinstance(plain, dict):
        return {k: _redact(wire[k], v) if k in wire else v for k, v in plain.items()}
    if isinstance(wire, list) and isinstance(plain, list) and len(wire) == len(plain):
        return [_redact(w, p) for w, p in zip(wire, plain, strict=True)]
    return plain


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return REDACTED


def _plain(value: Any) -> Any:
    """JSON-safe copy with sorted keys (the wire format's map order varies from run to run,
    and plan.json and the manifests must not); resource references become their name."""
    if isinstance(value, dict):
        return {k: _plain(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, pulumi.Resource):
        return f"<resource {value.pulumi_resource_name}>"
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return _asset(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format has only doubles; Kubernetes wants integers
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return json.loads(json.dumps(value, default=str))


def _asset(value: pulumi.Asset | pulumi.Archive) -> dict[str, Any]:
    """An asset as a reviewer compares it: a file by name and content hash, since its absolute
    path differs from checkout to checkout and its bytes are what the cloud receives."""
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {k: _plain(v) for k, v in sorted(value.assets.items())}}
    if isinstance(value, pulumi.StringAsset):
        return {"text_sha256": hashlib.sha256(value.text.encode()).hexdigest()}
    path = Path(getattr(value, "path", "") or "")
    if path.is_file():
        return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return {"source": path.name if path.name else getattr(value, "uri", type(value).__name__)}


def run_program(
    stack: str,
    spec_value: dict[str, Any],
    project_dir: Path,
    secret_values: Mapping[str, str] | None = None,
) -> list[Recorded]:
    """Execute the Pulumi program for `stack` with `spec_value` as its spec config and a
    placeholder for each Pulumi secret the spec names; `secret_values` sets Pulumi secrets
    (config key -> value) instead, e.g. known values to look for in the output."""
    try:
        secret_keys = list(load_spec(spec_value).spec.secret_keys())
    except SpecError:
        secret_keys = []  # the program reports the spec's problems itself
    echo = _EchoMocks()
    monitor = _RecordingMonitor(echo)
    settings.reset_options()
    mocks.set_mocks(echo, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    given = dict(secret_values or {})
    secrets = {
        f"{PROJECT}:{key}": given.get(key, SECRET_PLACEHOLDER) for key in {*secret_keys, *given}
    }
    pulumi.runtime.set_all_config(
        {CONFIG_KEY: json.dumps(spec_value), **secrets}, secret_keys=list(secrets)
    )
    program = project_dir / "platform" / "__main__.py"
    interrupted: list[KeyboardInterrupt] = []

    def main() -> None:
        try:
            runpy.run_path(str(program), run_name="__main__")
        except KeyboardInterrupt as exc:
            # run_pulumi_func (pulumi/runtime/stack.py, 3.272.0) catches this and then
            # waits for the registrations in flight; one waiting on a value the cut-short
            # code would have provided never completes (a plan hung so, in select()).
            # Stop the loop instead.
            interrupted.append(exc)
            asyncio.get_event_loop().stop()
            raise

    try:
        # pulumi.runtime.test is the SDK's public way to run a function under the mocks
        # and wait for every registration it starts (run_pulumi_func, in the SDK's loop).
        pulumi.runtime.test(main)()
    except RuntimeError:  # "Event loop stopped before Future completed."
        if interrupted:
            raise interrupted[0] from None
        raise
    finally:
        monitor.close_loops()
    # Registration order depends on thread scheduling; sort so plan.json diffs are real.
    return sorted(monitor.recorded, key=lambda r: r.urn)
