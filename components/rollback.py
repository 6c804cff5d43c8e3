"""Rolling a model back by hand: the exact commands for the cluster, and the edit of the
stack file that pins the previous revision. Pure: no Pulumi, no cluster access.

The stack file is edited as text, line by line, so its comments stay where they were: the
`revision:` line goes, with the comment lines just above it (they describe the revision
being rolled back), and the `previous_revision:` line becomes the `revision:` line. The
rolled-back revision is not kept as previous_revision: it is not one to return to."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from components.spec import CONFIG_KEY, Model


class RollbackError(ValueError):
    """A stack this command cannot edit; the message is one line."""


@dataclass(frozen=True)
class Rollback:
    model: str
    revision: str  # what it serves now
    previous: str  # what it goes back to
    commands: tuple[str, ...]
    edited: str  # the stack file's new text


def commands(model: Model, namespace: str) -> tuple[str, ...]:
    """The commands that put the cluster back on the previous revision now, before the
    stack's change is deployed."""
    if model.rollout is not None:
        # argo-rollouts@v1.9.0 pkg/kubectl-argo-rollouts/cmd/cmd.go:70,74 registers `abort`
        # and `undo` (cmd/abort/abort.go:36 "abort ROLLOUT_NAME", cmd/undo/undo.go:46 "undo
        # ROLLOUT_NAME"); -n is kubectl's ConfigFlags (options/options.go:48,94-97). abort
        # sends all traffic back to stable at once; undo sets the template to the previous
        # ReplicaSet's, since after an abort the template still names the bad revision
        # (cmd/abort/abort.go:25-28).
        return (
            f"kubectl argo rollouts abort {model.name} -n {namespace}",
            f"kubectl argo rollouts undo {model.name} -n {namespace}",
        )
    # https://kubernetes.io/docs/reference/kubectl/generated/kubectl_rollout/kubectl_rollout_undo/
    return (f"kubectl rollout undo deployment/{model.name} -n {namespace}",)


_ITEM = re.compile(r"^(?P<indent>\s*)- name:\s*(?P<name>['\"]?[a-z0-9-]+['\"]?)\s*(#.*)?$")


def _model_lines(lines: list[str], name: str) -> tuple[int, int, str]:
    """The line span of the models[] item named `name`, and its keys' indentation."""
    for start, line in enumerate(lines):
        m = _ITEM.match(line)
        if m is None or m["name"].strip("'\"") != name:
            continue
        indent = len(m["indent"])
        end = start + 1
        while end < len(lines):
            text = lines[end]
            stripped = text.lstrip()
            if stripped and not stripped.startswith("#") and len(text) - len(stripped) <= indent:
                break
            end += 1
        return start, end, " " * (indent + 2)
    raise RollbackError(f"no line '- name: {name}' under models in the stack file")


def _key_line(lines: list[str], span: tuple[int, int], keys: str, key: str) -> int:
    pattern = re.compile(rf"^{keys}{key}:\s")
    found = [i for i in range(*span) if pattern.match(lines[i])]
    if len(found) != 1:
        raise RollbackError(f"no single '{key}:' line in the model's block of the stack file")
    return found[0]


def _attached_comments(lines: list[str], line: int, keys: str) -> int:
    """The first of the comment lines directly above `line`, at its indentation."""
    first = line
    while first > 0 and lines[first - 1].startswith(f"{keys}#"):
        first -= 1
    return first


def edit(text: str, model: Model) -> str:
    """The stack file with model pinned back to its previous_revision."""
    previous = model.previous_revision
    if previous is None:
        raise RollbackError("no previous_revision")
    lines = text.splitlines(keepends=True)
    start, end, keys = _model_lines(lines, model.name)
    current = _key_line(lines, (start, end), keys, "revision")
    before = _key_line(lines, (start, end), keys, "previous_revision")
    lines[before] = lines[before].replace(f"{keys}previous_revision:", f"{keys}revision:", 1)
    del lines[_attached_comments(lines, current, keys) : current + 1]
    return "".join(lines)


def _spec_of(text: str) -> Any:
    doc = yaml.safe_load(text)
    return doc["config"][CONFIG_KEY]


def plan(text: str, model: Model, namespace: str) -> Rollback:
    """The rollback of `model`, checked: the edited file parses to the same spec but for
    the model's revision (now previous_revision) and previous_revision (gone)."""
    if model.previous_revision is None:
        raise RollbackError("no previous_revision")
    edited = edit(text, model)
    want = _spec_of(text)
    index = next(i for i, m in enumerate(want["models"]) if m["name"] == model.name)
    want["models"][index]["revision"] = want["models"][index].pop("previous_revision")
    if _spec_of(edited) != want:
        raise RollbackError("the line edit would change more than the model's revision")
    return Rollback(
        model.name, model.revision, model.previous_revision, commands(model, namespace), edited
    )


def diff(before: str, after: str, path: str) -> str:
    """The unified diff of the stack file, as `git diff` names its sides."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )
