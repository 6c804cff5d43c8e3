"""Runs the CrossGuard pack over a recorded graph the way the Pulumi engine does.

The engine starts `python -m pulumi.policy <engine-address> <pack-dir>` (here with a guard
that ends the pack with the plan), reads the gRPC port from the first line the pack
prints, then calls `Configure` with the policy config, `Analyze` once per resource, and
`AnalyzeStack` with every resource. This module does the same, so the offline plan and
`pulumi preview --policy-pack policies` return one verdict.
"""

from __future__ import annotations

import select
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jsonschema
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2 as pb
from pulumi.runtime.proto import analyzer_pb2_grpc

from components.input_files import InputFileError, read_json
from components.plan import wire
from components.spec import ECHO_LIMIT, echo, key_text

# No engine runs here: the pack only logs to this address, and the SDK writes its logs to
# stderr when nothing is configured, as under the CLI with no engine attached.
NO_ENGINE = "127.0.0.1:0"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 5
# `python -m pulumi.policy`, plus a thread that ends the pack when its stdin closes: the
# plan holds the other end, so no pack outlives the plan, however the plan ends (SIGKILL
# included, which runs no clean-up of ours).
_PACK_MAIN = """
import os, runpy, sys, threading
def _orphaned():
    sys.stdin.buffer.read()
    os._exit(1)
threading.Thread(target=_orphaned, daemon=True).start()
runpy.run_module("pulumi.policy", run_name="__main__", alter_sys=True)
"""
LEVELS = {
    pb.ADVISORY: "advisory",
    pb.MANDATORY: "mandatory",
    pb.DISABLED: "disabled",
    pb.REMEDIATE: "remediate",
}
_LEVEL_VALUES = {v: k for k, v in LEVELS.items()}
SEVERITIES = {
    pb.POLICY_SEVERITY_UNSPECIFIED: "",
    pb.POLICY_SEVERITY_LOW: "low",
    pb.POLICY_SEVERITY_MEDIUM: "medium",
    pb.POLICY_SEVERITY_HIGH: "high",
    pb.POLICY_SEVERITY_CRITICAL: "critical",
}
_SIG = wire.SIG_KEY
_RESOURCE = wire.RESOURCE_SIG
_OUTPUT = wire.OUTPUT_VALUE_SIG
_SECRET = wire.SECRET_SIG


class PolicyConfigError(ValueError):
    """A policy config file that the engine would refuse; one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class PolicyPackError(RuntimeError):
    """The pack did not start, or failed while analyzing (a bug in a rule)."""


@dataclass(frozen=True)
class Resource:
    """One resource as the engine hands it to an analyzer."""

    urn: str
    type: str
    name: str
    properties: dict[str, Any]
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: str
    severity: str
    message: str
    urn: str

    @property
    def resource(self) -> str:
        """The resource's name from its URN, or `stack` for a stack-wide violation."""
        return self.urn.rsplit("::", 1)[-1] if self.urn else "stack"

    @property
    def detail(self) -> str:
        """The message without the policy description the SDK puts on its first line."""
        return self.message.split("\n", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "resource": self.resource, "detail": self.detail}


def engine_view(value: Any) -> Any:
    """Properties as the engine marshals them for analyzers: resource references become
    their ID (their URN for components) and output values their value, or the unknown
    sentinel; secrets stay in their envelope."""
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _RESOURCE:
            return value.get("id") or value.get("urn", "")
        if sig == _OUTPUT:
            if "value" not in value:
                return rpc.UNKNOWN
            inner = engine_view(value["value"])
            return {_SIG: _SECRET, "value": inner} if value.get("secret") else inner
        return {k: engine_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [engine_view(v) for v in value]
    return value


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def read_config(path: Path) -> dict[str, Any]:
    """A `--policy-pack-config` file: {policy: level | {enforcementLevel?, ...props}}."""
    try:
        raw = read_json(path, str(path))
    except InputFileError as exc:
        raise PolicyConfigError([exc.problem]) from None
    if not isinstance(raw, dict):
        raise PolicyConfigError([f"{path}: must be a JSON object of policy name -> config"])
    problems = []
    for name, value in raw.items():
        # A level given as null, a list or a number is as wrong as a misspelt one.
        has_level = isinstance(value, str) or (
            isinstance(value, dict) and "enforcementLevel" in value
        )
        level = value.get("enforcementLevel") if isinstance(value, dict) else value
        if not isinstance(value, str | dict):
            problems.append(f"{path}: {key_text(name)}: must be an enforcement level or an object")
        elif name == "all" and isinstance(value, dict) and set(value) - {"enforcementLevel"}:
            problems.append(f"{path}: all: sets only enforcementLevel, for every policy")
        elif has_level and not (isinstance(level, str) and level in _LEVEL_VALUES):
            problems.append(
                f"{path}: {key_text(name)}.enforcementLevel: must be one of "
                f"{', '.join(_LEVEL_VALUES)} (got {echo(level)})"
            )
    if problems:
        raise PolicyConfigError(problems)
    return raw


def check_names(config: dict[str, Any], policies: list[str]) -> None:
    """The engine refuses config for a policy the pack does not have; so does the plan."""
    unknown = sorted(set(config) - set(policies) - {"all"})
    if unknown:
        raise PolicyConfigError(
            [
                f"policy config: {key_text(name)}: no such policy; policies: {', '.join(policies)}"
                for name in unknown
            ]
        )


class Analyzer:
    """A policy pack process, spoken to over the engine's analyzer protocol. The process
    starts at construction and is connected to on first use, so it can load while the
    caller does other work (the plan runs the program meanwhile); `close` stops it."""

    def __init__(self, pack_dir: Path):
        # A file, not a pipe: nothing reads the pack's log until it fails.
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by close()
        # Its own process group: a terminal's Ctrl-C reaches only the plan, which stops the
        # pack itself, instead of racing the pack's own exit (read as "did not start").
        # Unbuffered (-u): the pack writes its port to a pipe and never flushes it
        # (pulumi_policy 1.21.0 policy.py `sys.stdout.buffer.write`); without PYTHONUNBUFFERED
        # in the environment, as on a CI runner, the port would wait in the buffer for ever.
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and pack
            [sys.executable, "-u", "-c", _PACK_MAIN, NO_ENGINE, str(pack_dir)],
            cwd=pack_dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            process_group=0,
        )
        self._channel: grpc.Channel | None = None
        self._analyzer: analyzer_pb2_grpc.AnalyzerStub | None = None

    @property
    def _stub(self) -> analyzer_pb2_grpc.AnalyzerStub:
        if self._analyzer is None:
            assert self._proc.stdout is not None
            ready, _, _ = select.select([self._proc.stdout], [], [], START_TIMEOUT_S)
            line = self._proc.stdout.readline().strip() if ready else ""
            if not line.isdigit():
                raise self._failed(f"did not start: {line}")
            self._channel = grpc.insecure_channel(f"127.0.0.1:{line}")
            try:
                grpc.channel_ready_future(self._channel).result(timeout=START_TIMEOUT_S)
            except grpc.FutureTimeoutError:
                raise self._failed(f"no answer on port {line}") from None
            self._analyzer = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        return self._analyzer

    def __enter__(self) -> Analyzer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _failed(self, reason: str) -> PolicyPackError:
        self._stop()
        self._log.seek(0)
        error = PolicyPackError(f"{reason}\n{self._log.read()}".strip())
        self.close()
        return error

    def close(self) -> None:
        """Stops the pack; safe to call more than once, and on every exit path."""
        self._stop()
        for stream in (self._proc.stdin, self._proc.stdout, self._log):
            if stream is not None:
                stream.close()

    def _stop(self) -> None:
        """Asks the pack to stop, and kills it if it has not within STOP_TIMEOUT_S."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def info(self) -> pb.AnalyzerInfo:
        return self._stub.GetAnalyzerInfo(empty_pb2.Empty())

    def configure(self, config: dict[str, Any]) -> None:
        """What `--policy-pack-config` does: the engine sends every policy's level (the
        pack's default unless overridden) and its properties."""
        info = self.info()
        check_names(config, [p.name for p in info.policies])
        # "all" sets only an enforcement level, for every policy without its own.
        everything = config.get("all")
        if isinstance(everything, dict):
            everything = everything.get("enforcementLevel")
        request = pb.ConfigureAnalyzerRequest()
        problems = []
        for policy in info.policies:
            value = config.get(policy.name, everything)
            level, props = policy.enforcementLevel, {}
            if isinstance(value, str):
                level = _LEVEL_VALUES[value]
            elif isinstance(value, dict):
                props = {k: v for k, v in value.items() if k != "enforcementLevel"}
                if "enforcementLevel" in value:
                    level = _LEVEL_VALUES[value["enforcementLevel"]]
                elif everything is not None:
                    level = _LEVEL_VALUES[everything]
            problems += _schema_problems(policy, props)
            request.policyConfig[policy.name].CopyFrom(
                pb.PolicyConfig(enforcementLevel=level, properties=_struct(props))
            )
        if problems:
            raise PolicyConfigError(problems)
        self._stub.Configure(request)

    def analyze(self, r: Resource) -> list[Violation]:
        request = pb.AnalyzeRequest(
            type=r.type, properties=_struct(r.properties), urn=r.urn, name=r.name
        )
        return _violations(_call(self._stub.Analyze, request), r.urn)

    def analyze_stack(self, resources: list[Resource]) -> list[Violation]:
        request = pb.AnalyzeStackRequest()
        for r in resources:
            item = request.resources.add(
                type=r.type,
                properties=_struct(r.properties),
                urn=r.urn,
                name=r.name,
                parent=r.parent,
                dependencies=list(r.dependencies),
            )
            for key, urns in r.property_dependencies.items():
                item.propertyDependencies[key].urns.extend(urns)
        return _violations(_call(self._stub.AnalyzeStack, request), "")

    def review(self, resources: list[Resource]) -> list[Violation]:
        found = [v for r in resources for v in self.analyze(r)]
        return found + self.analyze_stack(resources)


def _call(method: Any, request: Any) -> pb.AnalyzeResponse:
    try:
        return method(request)
    except grpc.RpcError as exc:
        raise PolicyPackError(f"{exc.code().name}: {exc.details()}") from None


def _schema_problems(policy: pb.PolicyInfo, props: dict[str, Any]) -> list[str]:
    schema = {
        "type": "object",
        "properties": json_format.MessageToDict(policy.configSchema.properties),
        "required": list(policy.configSchema.required),
        "additionalProperties": False,
    }
    return [
        f"policy config: {policy.name}{''.join(f'.{p}' for p in e.absolute_path)}: "
        f"{_schema_message(e)}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(props)
    ]


def _schema_message(e: jsonschema.ValidationError) -> str:
    # jsonschema's message quotes the whole offending value; a long one is cut as spec's are.
    if len(e.message) <= 2 * ECHO_LIMIT:
        return e.message
    return f"{echo(e.instance)} does not satisfy {e.validator} {echo(e.validator_value)}"


def _violations(response: pb.AnalyzeResponse, urn: str) -> list[Violation]:
    return [
        Violation(
            policy=d.policyName,
            enforcement=LEVELS.get(d.enforcementLevel, "advisory"),
            severity=SEVERITIES.get(d.severity, ""),
            message=d.message,
            urn=d.urn or urn,
        )
        for d in response.diagnostics
    ]
