"""Start the real osprey binary for the Python client tests.

Each test module gets its own server: a temporary working directory, free
loopback ports and a random API key, as issue 2 describes. The binary is
``$OSPREY_BIN`` (default ``$CARGO_TARGET_DIR/debug/osprey``).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 20


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary() -> str:
    explicit = os.environ.get("OSPREY_BIN")
    if explicit:
        return explicit
    target = os.environ.get(
        "CARGO_TARGET_DIR", os.path.expanduser("~/.cache/osprey-target")
    )
    return os.path.join(target, "debug", "osprey")


class OspreyServer:
    """A running server with its storage in a temporary directory."""

    def __init__(self, extra_env: dict[str, str] | None = None, tls: bool = False) -> None:
        self.extra_env = dict(extra_env or {})
        self.tls = tls
        self._tmp = tempfile.TemporaryDirectory(prefix="osprey-py-")
        self.dir = Path(self._tmp.name)
        self.http_port = _free_port()
        self.grpc_port = _free_port()
        self.api_key = "py-" + secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.binary = _binary()
        if not os.path.exists(self.binary):
            pytest.fail(f"osprey binary not found at {self.binary}; build it or set OSPREY_BIN")

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = "localhost" if self.tls else "127.0.0.1"
        return f"{scheme}://{host}:{self.http_port}"

    def _health_get(self):
        if self.tls:
            return requests.get(self.url + "/healthz", timeout=2, verify=str(self.dir / "cert.pem"))
        return requests.get(self.url + "/healthz", timeout=2)

    def log_path(self) -> Path:
        return self.dir / f"server-{self.starts}.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path().read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def start(self) -> None:
        assert self.proc is None, "already running"
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("QDRANT")}
        env.update(
            {
                "QDRANT__SERVICE__HOST": "127.0.0.1",
                "QDRANT__SERVICE__HTTP_PORT": str(self.http_port),
                "QDRANT__SERVICE__GRPC_PORT": str(self.grpc_port),
                "QDRANT__STORAGE__STORAGE_PATH": str(self.dir / "storage"),
                "QDRANT__STORAGE__SNAPSHOTS_PATH": str(self.dir / "snapshots"),
                "QDRANT__SERVICE__API_KEY": self.api_key,
                "RUST_LOG": "warn",
            }
        )
        env.update(self.extra_env)
        log = open(self.log_path(), "wb")
        self.proc = subprocess.Popen(
            [self.binary],
            cwd=self.dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                pytest.fail(f"osprey exited during start-up ({code}):\n{self.log_tail()}")
            try:
                if self._health_get().status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"osprey did not become healthy in {START_TIMEOUT_S}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Graceful stop with SIGTERM; a server that ignores it fails the test."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            pytest.fail(f"osprey ignored SIGTERM for {STOP_TIMEOUT_S}s:\n{self.log_tail()}")
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.kill()
        self._tmp.cleanup()


@pytest.fixture(scope="module")
def server():
    srv = OspreyServer()
    srv.start()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def client(server):
    import warnings

    from qdrant_client import QdrantClient

    with warnings.catch_warnings():
        # Plain HTTP on loopback is intended here; every other warning is checked
        # by test_client_construction_passes_version_check.
        warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
        c = QdrantClient(url=server.url, api_key=server.api_key, prefer_grpc=False, timeout=60)
    yield c
    c.close()
