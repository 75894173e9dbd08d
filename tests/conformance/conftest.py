"""Shared fixtures of the conformance tier: a real `kumo up` on a free port and a fresh data dir.

Every test here drives Kumo with Google's own client libraries, pointed at Kumo only through
endpoint and credentials, as a user would.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

KUMO_BIN = os.environ.get("KUMO_BIN", str(pathlib.Path(__file__).resolve().parents[2] / "target" / "debug" / "kumo"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Kumo:
    """A running Kumo server."""

    def __init__(self, data_dir: pathlib.Path, port: int, process: subprocess.Popen):
        self.data_dir = data_dir
        self.port = port
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}"

    @property
    def admin_credentials_file(self) -> pathlib.Path:
        return self.data_dir / "admin-credentials.json"

    def admin_credentials(self):
        """google.oauth2.credentials.Credentials of the bootstrap administrator."""
        from google.oauth2.credentials import Credentials

        info = json.loads(self.admin_credentials_file.read_text())
        # google-auth ignores an authorized_user file's token_uri (real-clients.md §0).
        return Credentials.from_authorized_user_info(info).with_token_uri(info["token_uri"])


def start_kumo(extra_args=(), data_dir=None) -> Kumo:
    """Starts `kumo up` on a free port; a fresh data dir unless one is given (a restart)."""
    data_dir = pathlib.Path(data_dir) if data_dir else pathlib.Path(tempfile.mkdtemp(prefix="kumo-conformance-"))
    port = _free_port()
    log = open(data_dir / "server.log", "ab")
    process = subprocess.Popen(
        [KUMO_BIN, "up", "--data-dir", str(data_dir), "--port", str(port), *extra_args],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kumo exited early: {(data_dir / 'server.log').read_text()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return Kumo(data_dir, port, process)
        except (requests.ConnectionError, requests.Timeout):
            # Not listening yet, or busy starting up (first-start key generation).
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("kumo did not become ready within 60 s")


def stop_kumo(kumo: Kumo) -> None:
    kumo.process.send_signal(signal.SIGINT)
    try:
        kumo.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        kumo.process.kill()
        kumo.process.wait()


@pytest.fixture(scope="session")
def kumo():
    server = start_kumo()
    yield server
    stop_kumo(server)
