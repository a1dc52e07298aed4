"""A real ``redis-server`` process on a free loopback port, for the Redis limiter tests.

Started from PATH with no persistence (``--save '' --appendonly no``); readiness is
read from the server's own log line, not guessed with sleeps. Tests skip with a clear
reason when no ``redis-server`` is installed, or fail when ``GHMODELS_REQUIRE_REDIS``
is set (CI sets it, so these tests can never be skipped there unnoticed).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading

import pytest

READY = b"Ready to accept connections"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One ``redis-server`` child process bound to 127.0.0.1."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("GHMODELS_REQUIRE_REDIS"):
                pytest.fail("GHMODELS_REQUIRE_REDIS is set but redis-server is not on PATH")
            pytest.skip(
                "redis-server is not on PATH (apt-get install redis-server); "
                "CI installs it, the Redis limiter tests need a real server"
            )
        self._dir = tempfile.TemporaryDirectory(prefix="ghm-redis-")
        for _attempt in range(5):
            self.port = _free_port()
            self.process = subprocess.Popen(
                [
                    binary, "--port", str(self.port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", self._dir.name,
                    "--daemonize", "no", "--loglevel", "notice",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            assert self.process.stdout is not None
            for line in self.process.stdout:
                if READY in line:
                    stdout = self.process.stdout
                    threading.Thread(target=stdout.read, daemon=True).start()  # drain the log
                    return
            self.process.wait()  # exited before ready (port taken?): try another port
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._dir.cleanup()
