"""The artifact store as the harness sees it: an fsspec filesystem (s3fs, gcsfs, adlfs, or a
local directory for the on-prem claim), the run's directory under checkpoints/, and the run's
state.json. Every store failure becomes a StoreError with one line; one the Job cannot get
past by retrying (a bad URL, no bucket, no credentials, access denied) is a StoreConfigError,
which the harness exits CONFIG_ERROR_EXIT_CODE on."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fsspec import AbstractFileSystem

from components.lifecycle import sync
from components.lifecycle.cli import first_line
from components.training.contract import CHECKPOINTS_PREFIX, RUN_STATE

# Errors that no retry of the Job can fix. botocore's credential errors are no OSError
# (botocore==1.43.117 exceptions.py: NoCredentialsError, PartialCredentialsError derive from
# BotoCoreError), and this image does not import botocore itself: they are known by name.
CONFIG_ERROR_NAMES = frozenset({
    "NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
    "InvalidConfigError", "ClientAuthenticationError",  # azure-core's, through adlfs
})


class StoreError(Exception):
    """One line: the path and what went wrong there."""


class StoreConfigError(StoreError):
    """The store cannot be used at all: its URL, its bucket or the credentials."""


def classify(where: str, err: BaseException) -> StoreError:
    """The one-line StoreError for a library's exception at `where`."""
    line = f"{where}: {type(err).__name__}: {first_line(err)}"
    # A missing bucket is a FileNotFoundError at the first listing (s3fs==2026.9.0
    # translates NoSuchBucket); a missing object is handled where it is expected.
    if isinstance(err, (PermissionError, FileNotFoundError, ValueError, ImportError)) \
            or type(err).__name__ in CONFIG_ERROR_NAMES:
        return StoreConfigError(line)
    return StoreError(line)


@contextlib.contextmanager
def errors(where: str) -> Iterator[None]:
    """Turn whatever the store's library raises at `where` into a StoreError."""
    try:
        yield
    except StoreError:
        raise
    except Exception as err:  # noqa: BLE001 - s3fs, gcsfs, adlfs and their SDKs raise many kinds
        raise classify(where, err) from None


@dataclass
class Store:
    fs: AbstractFileSystem
    root: str  # the store root as the filesystem names it (no protocol)
    url: str  # as given, for messages

    @classmethod
    def open(cls, url: str) -> Store:
        # The lifecycle's sync opens stores the same way: a local store makes its directories
        # as it writes, and FSSPEC_<PROTOCOL>_<OPTION> variables reach the backend (the S3
        # endpoint of an on-prem MinIO, moto's in the tests).
        try:
            fs, root = sync._filesystem(url)
        except sync.SyncError as err:
            raise StoreConfigError(f"--store {err}") from None
        return cls(fs, root.rstrip("/"), url.rstrip("/"))

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def url_of(self, path: str) -> str:
        return self.url + path.removeprefix(self.root)

    def find(self, prefix: str) -> dict[str, int]:
        """relative path -> size of every object under `prefix`, read now (not s3fs's cache)."""
        self.fs.invalidate_cache()
        with errors(self.url_of(prefix)):
            found = self.fs.find(prefix, detail=True)
        head = prefix.rstrip("/") + "/"
        return {name.removeprefix(head): int(info.get("size") or 0)
                for name, info in sorted(found.items()) if name.startswith(head)}

    def read_json(self, path: str) -> Any | None:
        """The JSON object at `path`, or None when there is none (a missing bucket fails the
        listing before: see load_state)."""
        try:
            text = self.fs.cat_file(path)
        except FileNotFoundError:
            return None
        except Exception as err:  # noqa: BLE001 - as in errors()
            raise classify(self.url_of(path), err) from None
        try:
            return json.loads(text)
        except ValueError as err:
            raise StoreError(f"{self.url_of(path)}: not JSON ({err})") from None

    def write_bytes(self, path: str, data: bytes) -> None:
        with errors(self.url_of(path)):
            self.fs.pipe_file(path, data)

    def remove(self, prefix: str) -> None:
        with errors(self.url_of(prefix)):
            self.fs.rm(prefix, recursive=True)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class RunState:
    """state.json: the preemptions the run survived, its seed, and when its first attempt
    started (the run record's start: a resumed run started when its first pod did)."""

    preemptions: int
    seed: int
    started_at: str


def run_root(store: Store, job: str, run: str) -> str:
    return store.path(CHECKPOINTS_PREFIX, job, run)


def load_state(store: Store, root: str, seed: int) -> RunState:
    """The run's state, written now when this is its first attempt: that write is also the
    check that the store exists and takes our writes, before any training."""
    store.find(root)  # a missing bucket or no credentials fail here, as a StoreConfigError
    doc = store.read_json(f"{root}/{RUN_STATE}")
    if doc is None:
        state = RunState(0, seed, utc_now())
        save_state(store, root, state)
        return state
    try:
        return RunState(int(doc["preemptions"]), int(doc["seed"]), str(doc["started_at"]))
    except (KeyError, TypeError, ValueError) as err:
        raise StoreError(f"{store.url_of(root)}/{RUN_STATE}: not a state this harness wrote "
                         f"({type(err).__name__}: {err})") from None


def save_state(store: Store, root: str, state: RunState) -> None:
    body = {"preemptions": state.preemptions, "seed": state.seed, "started_at": state.started_at}
    store.write_bytes(f"{root}/{RUN_STATE}", (json.dumps(body, indent=2) + "\n").encode())
