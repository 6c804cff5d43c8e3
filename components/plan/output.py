"""out/<stack> is written whole or not at all.

A plan is written into a new directory beside its target and renamed into place only when
every file is there, so a failed or interrupted run leaves the previous complete plan, or
none, and never old files next to new ones. Ctrl-C and termination signals raise
KeyboardInterrupt here, and are remembered: the Pulumi SDK catches BaseException in places
(pulumi/runtime/resource.py `_get_stack_trace`, pulumi 3.272.0), which would otherwise let
an interrupted run complete and replace the plan.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PLAN_FILE = "plan.json"
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_received: list[int] = []


class OutputError(ValueError):
    """An output directory the plan must not replace or cannot write."""


def plan_stack(directory: Path) -> str | None:
    """The stack whose plan `directory` holds, from its plan.json; None if it holds none."""
    try:
        stack = json.loads((directory / PLAN_FILE).read_text()).get("stack")
    except (OSError, ValueError, AttributeError):
        return None
    return stack if isinstance(stack, str) else None


def check_target(target: Path, stack: str) -> None:
    """The plan replaces its directory whole, so it replaces only an empty directory or an
    earlier plan of the same stack; anything else is refused before any work is done."""
    try:
        if not target.exists():
            return
        if not target.is_dir():
            raise OutputError(f"{target}: not a directory")
        if not any(target.iterdir()):
            return
    except OSError as exc:
        raise OutputError(f"{target}: cannot read ({exc.strerror})") from None
    owner = plan_stack(target)
    if owner == stack:
        return
    if owner is None:
        raise OutputError(
            f"{target}: not empty and holds no plan; the plan replaces its output directory "
            f"whole, so --out takes a new or empty directory or an earlier plan of '{stack}'"
        )
    raise OutputError(
        f"{target}: holds the plan of stack '{owner}'; each stack needs its own output "
        f"directory (default out/<stack>)"
    )


def _on_signal(signum: int, _frame: object) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def _exit_now(signum: int, _frame: object) -> None:
    os.write(2, f"interrupted by {signal.Signals(signum).name}\n".encode())
    os._exit(128 + signum)


def record_signals(*, importing: bool = False) -> None:
    """SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt and are recorded from now on (in
    the main thread; a signal the parent set to be ignored stays ignored). While `importing`
    they exit at once instead: nothing is written yet, and a KeyboardInterrupt raised inside
    an extension (pydantic-core building a validator) comes out as that library's error
    with a traceback."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in _SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _exit_now if importing else _on_signal)


def received() -> int | None:
    """The first Ctrl-C or termination signal since `interruptible` began, if any."""
    return _received[0] if _received else None


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt for the duration. A signal the
    parent set to be ignored (a background job's SIGINT, nohup's SIGHUP) stays ignored."""
    _received.clear()
    previous = {
        sig: signal.signal(sig, _on_signal)
        for sig in _SIGNALS
        if signal.getsignal(sig) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _deferred() -> Iterator[None]:
    """Holds the signals back for a few renames, so they cannot stop half-way; one that
    arrives meanwhile is delivered when the block ends."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A new directory beside `target` (the same file system, so renaming it is atomic) to
    write the plan into. It replaces `target` when the block completes without a signal,
    and is removed when the block raises."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = _new_dir(target)
    except OSError as exc:
        raise OutputError(f"{target.parent}: cannot write ({exc.strerror})") from None
    try:
        try:
            yield staging
        except OSError as exc:  # a full disk, a quota
            raise OutputError(f"{target}: cannot write ({exc.strerror})") from None
        _replace(staging, target)
    finally:
        with _deferred():
            shutil.rmtree(staging, ignore_errors=True)


def _new_dir(target: Path) -> Path:
    """A hidden sibling of `target` with the permissions a plain mkdir gives (mkdtemp's are
    owner-only, and the directory becomes the plan)."""
    while True:
        path = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def _pending() -> bool:
    """A signal held back by `_deferred` that will act when it ends (not an ignored one)."""
    return any(
        s in _SIGNALS and signal.getsignal(s) is not signal.SIG_IGN for s in signal.sigpending()
    )


def _replace(new: Path, target: Path) -> None:
    """Old aside, new in, old removed; if the new one cannot go in, the old one goes back."""
    with _deferred():
        if _received:
            raise KeyboardInterrupt  # the first one was swallowed on the way
        if _pending():
            return  # it raises when `_deferred` ends, before anything is replaced
        aside = new.with_name(f"{new.name}.old")
        had_old = target.exists()
        try:
            if had_old:
                os.rename(target, aside)
            try:
                os.rename(new, target)
            except OSError:
                if had_old:
                    os.rename(aside, target)
                raise
        except OSError as exc:
            raise OutputError(f"{target}: cannot replace ({exc.strerror})") from None
        if had_old:
            shutil.rmtree(aside, ignore_errors=True)
