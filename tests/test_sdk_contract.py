"""What the offline plan needs from the installed Pulumi SDK (issue 12, part 8).

pyproject allows any pulumi>=3.200,<4. The plan uses only the SDK's public API
(pulumi.runtime.set_mocks, pulumi.runtime.test, Resource.pulumi_resource_name) plus the
protocol's wire markers, which components/plan/wire.py copies from the protocol definition.
These tests run a tiny program through the real runner and fail, naming the SDK version and
the file to fix, when an SDK stops writing a secret or a resource reference the way the plan
reads them; the secret case is the one that would leak a secret into plan.json.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest

from components.plan import wire
from components.plan.runner import REDACTED, run_program

SDK = f"pulumi {version('pulumi')}"
FIX = "update components/plan/wire.py (and check the pyproject range)"

PROGRAM = """
import pulumi
first = pulumi.CustomResource("test:index:Thing", "first", {"token": pulumi.Output.secret("s3cr3t")})
pulumi.CustomResource("test:index:Thing", "second", {"peer": first, "plain": "visible"})
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    project = tmp_path_factory.mktemp("contract")
    (project / "platform").mkdir()
    (project / "platform" / "__main__.py").write_text(PROGRAM)
    return {r.name: r for r in run_program("local", {}, project)}


def test_the_runner_records_every_resource_of_the_program(recorded):
    assert sorted(recorded) == ["first", "second"], f"{SDK}: the mock run lost registrations"
    assert recorded["second"].inputs["plain"] == "visible"


def test_a_secret_is_on_the_wire_in_the_envelope_the_plan_redacts(recorded):
    token = recorded["first"].wire["token"]
    assert token == {wire.SIG_KEY: wire.SECRET_SIG, "value": "s3cr3t"}, (
        f"{SDK} writes a secret as {token!r}, not in the envelope the plan redacts: {FIX}"
    )
    assert recorded["first"].inputs["token"] == REDACTED


def test_a_resource_reference_carries_the_marker_the_policy_view_reads(recorded):
    peer = recorded["second"].wire["peer"]
    assert isinstance(peer, dict) and peer.get(wire.SIG_KEY) == wire.RESOURCE_SIG, (
        f"{SDK} writes a resource reference as {peer!r}: {FIX}"
    )
    assert peer["urn"] == recorded["first"].urn


def test_the_run_leaves_no_open_event_loop_in_the_sdks_threads(tmp_path):
    """The mock monitor's methods run in the SDK's executor threads, each with an event loop
    of its own; one left open was finalized at exit after its sockets and printed a traceback
    under a pack error line (1 run in 10 on a loaded machine)."""
    import asyncio
    import gc

    (tmp_path / "platform").mkdir()
    (tmp_path / "platform" / "__main__.py").write_text(PROGRAM)
    assert sorted(r.name for r in run_program("local", {}, tmp_path)) == ["first", "second"]
    loops = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop)]
    # All closed but the main thread's, which the next run in this process uses again; the
    # registrations ran in the SDK's threads, so there were loops there to close.
    main_loop = asyncio.get_event_loop_policy().get_event_loop()
    assert [o for o in loops if o is not main_loop and not o.is_closed()] == []
    assert [o for o in loops if o is not main_loop]
