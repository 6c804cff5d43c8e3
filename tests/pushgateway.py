"""A real Pushgateway (Debian's prometheus-pushgateway, which `make test` installs) on a
kernel-chosen loopback port, for the tests of everything that pushes: the quality monitor,
the gateway's metrics contract and the model-tools CLIs."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# exporter-toolkit's web.Serve logs the listener's own address, "Listening on" address=HOST:PORT
# (prometheus/exporter-toolkit web/tls_config.go@v0.8.2, the version pushgateway v1.5.1's go.mod
# pins; still so in v0.15.1 under slog), so with port 0 the kernel picks a free port and the
# Pushgateway names it: nothing else can take the port between choosing and binding it. The
# Alertmanager logs the same line.
LISTENING = re.compile(r'msg="Listening on" address=(\S+)')


def listening_address(proc: subprocess.Popen, log: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = LISTENING.search(log.read_text())
        if found:
            return found.group(1)
        assert proc.poll() is None, f"{proc.args[0]} exited with {proc.returncode}:\n{log.read_text()}"
        time.sleep(0.05)
    raise AssertionError(f"{proc.args[0]} named no address in {timeout} s:\n{log.read_text()}")


@contextmanager
def running(tmp: Path) -> Iterator[str]:
    """The Pushgateway's URL, ready, until the block ends."""
    binary = shutil.which("prometheus-pushgateway")
    assert binary, "prometheus-pushgateway not installed: `make test` installs it (Debian package prometheus-pushgateway)"
    log = tmp / "pushgateway.log"
    with log.open("w") as err:
        # Debian's build persists to /var/lib/prometheus/pushgateway.data by default
        # (`prometheus-pushgateway --help`, 1.5.1): every test's Pushgateway would start with
        # the series of the one before. Empty: memory only.
        proc = subprocess.Popen([binary, "--web.listen-address=127.0.0.1:0", "--persistence.file="],
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        url = f"http://{listening_address(proc, log)}"
        urllib.request.urlopen(f"{url}/-/ready", timeout=10)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
