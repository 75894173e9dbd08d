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


# --- Helpers of the seed walkthroughs: the `kumo` CLI as a user would type it, and curl. ---


class CliError(AssertionError):
    """A `kumo` command that was expected to succeed failed (or the reverse)."""


class Cli:
    """`kumo ...` for one signed-in user, with its own KUMO_CONFIG (like one gcloud installation)."""

    def __init__(self, kumo: Kumo, account: str, config_dir: pathlib.Path):
        self.kumo = kumo
        self.account = account
        self.env = dict(os.environ, KUMO_CONFIG=str(config_dir), KUMO_ENDPOINT=kumo.base_url)
        self.env.pop("CLOUDSDK_CORE_PROJECT", None)

    def run(self, *args, ok=True, input=None) -> subprocess.CompletedProcess:
        """Runs `kumo ARGS`; `ok=True` asserts exit 0, `ok=False` asserts a failure."""
        done = subprocess.run(
            [KUMO_BIN, *args], env=self.env, capture_output=True, text=True, input=input, timeout=120
        )
        if ok and done.returncode != 0:
            raise CliError(f"kumo {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        if not ok and done.returncode == 0:
            raise CliError(f"kumo {' '.join(args)} succeeded but should have failed:\n{done.stdout}{done.stderr}")
        return done

    def out(self, *args) -> str:
        """stdout of a successful command, stripped."""
        return self.run(*args).stdout.strip()

    def json(self, *args):
        return json.loads(self.run(*args, "--format", "json").stdout)


def sign_in(kumo: Kumo, account: str, tmp_dir: pathlib.Path, project=None, region=None) -> Cli:
    """`kumo auth login --account EMAIL` (dev mode: no browser) into a fresh config dir."""
    config_dir = pathlib.Path(tempfile.mkdtemp(prefix=f"kumo-cfg-{account.split('@')[0]}-", dir=tmp_dir))
    cli = Cli(kumo, account, config_dir)
    cli.run("auth", "login", "--account", account)
    if project:
        cli.run("config", "set", "project", project)
    if region:
        cli.run("config", "set", "run/region", region)
    return cli


def curl(url, token=None, host=None) -> tuple[int, str]:
    """`curl URL [-H "Authorization: Bearer TOKEN"]`: (HTTP status, body)."""
    args = ["curl", "-s", "-w", "\n%{http_code}", url]
    if token is not None:
        args += ["-H", f"Authorization: Bearer {token}"]
    if host is not None:
        args += ["-H", f"Host: {host}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def gateway_url(cli: Cli, service: str, *flags: str) -> str:
    """The service's `*.run.localhost` URL on Kumo's own port (from the run.googleapis.com/urls annotation).

    The `127.0.0.1:SERVICEPORT` URL is avoided: a service port is checked free when allocated, but
    this tier starts and stops many servers, and a port may be taken by another one later.
    """
    urls = json.loads(cli.json("run", "services", "describe", service, *flags)["metadata"]["annotations"]["run.googleapis.com/urls"])
    return next(u for u in urls if ".run.localhost:" in u and ".a.run." not in u)


def project_number(cli: Cli, project: str) -> str:
    """The project number; `kumo projects describe` prints v3's `name: projects/NUMBER`."""
    described = cli.json("projects", "describe", project)
    return described.get("projectNumber") or described["name"].split("/")[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A `kumo up --demo` server of this module alone (tests of a module share it)."""
    server = start_kumo(["--demo"])
    yield server
    stop_kumo(server)


def cli_credentials(cli: Cli):
    """google.oauth2.credentials.Credentials carrying the CLI's current access token (1 h, no refresh)."""
    from google.oauth2.credentials import Credentials

    return Credentials(token=cli.out("auth", "print-access-token"))


def client_options(kumo: Kumo):
    """The only change a Google client needs: its endpoint (the http:// scheme selects plain HTTP)."""
    from google.api_core.client_options import ClientOptions

    return ClientOptions(api_endpoint=kumo.base_url)


def http_get(url, token=None):
    """requests.get of a `*.run.localhost` URL: glibc does not resolve `.localhost` names (curl does),
    so connect to 127.0.0.1 and name the service in the Host header."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    headers = {"Host": parts.netloc}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(f"http://127.0.0.1:{parts.port}{parts.path or '/'}", headers=headers, timeout=30)
