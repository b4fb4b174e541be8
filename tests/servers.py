"""Real servers on loopback for the integration tests: moto's, started as a subprocess, and
clients for LocalECS."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aioecs import Credentials, ECSClient
from aioecs.testing import LocalECS

# moto verifies SigV4 once this many unauthenticated calls have been made: the first three
# create the IAM user, its policy and its access key; every call after that must be signed
# with that key, so a wrong signature fails the test.
MOTO_UNAUTHENTICATED_CALLS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_for(local: LocalECS, **options: Any) -> ECSClient:
    """An ECSClient for `local`: its endpoint and region, signed with its key pair. `options`
    go to ECSClient and win over those (`credentials=...` to sign with something else)."""
    key, secret = local.credentials
    settings: dict[str, Any] = {
        "region": local.region,
        "endpoint_url": local.endpoint_url,
        "credentials": Credentials(access_key_id=key, secret_access_key=secret),
    }
    return ECSClient(**(settings | options))


@contextmanager
def moto_server() -> Iterator[str]:
    """`python -m moto.server` on a free loopback port, with auth enforced; yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        "INITIAL_NO_AUTH_ACTION_COUNT": str(MOTO_UNAUTHENTICATED_CALLS),
        "MOTO_ALLOW_NONEXISTENT_REGION": "false",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
