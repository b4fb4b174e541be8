"""Tests for aioecs._credentials: the chain (via botocore), refresh, and secret hygiene.

Every test runs in conftest's `hermetic_env`: all AWS_* variables cleared, the shared files
(and HOME) pointed into tmp_path, IMDS disabled, so nothing on the machine running the tests
can leak in.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from aioecs._credentials import (
    BotocoreCredentialProvider,
    CredentialProvider,
    Credentials,
    CredentialsError,
    NoCredentialsError,
    RefreshableCredentialProvider,
    StaticCredentials,
)
from aioecs._exceptions import ECSError

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKENVALUE"


pytestmark = pytest.mark.usefixtures("hermetic_env")


def write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text).lstrip())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- the chain, through botocore -------------------------------------------------------


async def test_env_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    provider = BotocoreCredentialProvider()
    creds = await provider.get()
    assert creds == Credentials(
        access_key_id="AKIAENV", secret_access_key=SECRET, session_token=TOKEN
    )
    assert provider.method == "env"
    assert isinstance(provider, CredentialProvider)


ENV_CASES = {
    "keys": {"AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": SECRET},
    "session token": {
        "AWS_ACCESS_KEY_ID": "AKIAENV",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": TOKEN,
    },
    "both tokens": {
        "AWS_ACCESS_KEY_ID": "AKIAENV",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SECURITY_TOKEN": "security-token",
        "AWS_SESSION_TOKEN": TOKEN,
    },
    "empty token": {
        "AWS_ACCESS_KEY_ID": "AKIAENV",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": "",
    },
    "expiring": {
        "AWS_ACCESS_KEY_ID": "AKIAENV",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": TOKEN,
        "AWS_CREDENTIAL_EXPIRATION": "2099-01-01T00:00:00Z",
    },
}


@pytest.mark.parametrize("case", ENV_CASES)
async def test_env_credentials_match_botocore(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """The environment's keys are read without botocore when nothing needs refreshing; what
    comes out is what botocore's EnvProvider says for the same variables."""
    from botocore.credentials import EnvProvider

    for name, value in ENV_CASES[case].items():
        monkeypatch.setenv(name, value)
    expected = EnvProvider().load().get_frozen_credentials()
    provider = BotocoreCredentialProvider()
    creds = await provider.get()
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == (
        expected.access_key,
        expected.secret_key,
        expected.token,
    )
    assert provider.method == "env"


def write_credentials_file(home: Path) -> None:
    """A default profile with keys, in the hermetic shared credentials file: a source only
    botocore's chain reads (the environment's keys are read without it)."""
    write(
        home / "credentials",
        f"""
        [default]
        aws_access_key_id = AKIAFILE
        aws_secret_access_key = {SECRET}
        """,
    )


async def test_shared_credentials_file_default_profile(hermetic_env: Path) -> None:
    write_credentials_file(hermetic_env)
    provider = BotocoreCredentialProvider()
    creds = await provider.get()
    assert creds.access_key_id == "AKIAFILE"
    assert creds.secret_access_key == SECRET
    assert creds.session_token is None
    assert provider.method == "shared-credentials-file"


async def test_env_beats_shared_files(monkeypatch: pytest.MonkeyPatch, hermetic_env: Path) -> None:
    write(
        hermetic_env / "credentials",
        """
        [default]
        aws_access_key_id = AKIAFILE
        aws_secret_access_key = file-secret
        """,
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    assert (await BotocoreCredentialProvider().get()).access_key_id == "AKIAENV"


async def test_named_profile_from_env_and_argument(
    monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    write(
        hermetic_env / "credentials",
        """
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = default-secret
        [dev]
        aws_access_key_id = AKIADEV
        aws_secret_access_key = dev-secret
        """,
    )
    write(
        hermetic_env / "config",
        """
        [profile ops]
        aws_access_key_id = AKIAOPS
        aws_secret_access_key = ops-secret
        """,
    )
    assert (await BotocoreCredentialProvider().get()).access_key_id == "AKIADEFAULT"
    monkeypatch.setenv("AWS_PROFILE", "dev")
    assert (await BotocoreCredentialProvider().get()).access_key_id == "AKIADEV"
    # The explicit argument beats AWS_PROFILE, and config-file profiles work too.
    provider = BotocoreCredentialProvider(profile="ops")
    assert (await provider.get()).access_key_id == "AKIAOPS"
    assert provider.method == "config-file"


async def test_explicit_profile_beats_env_keys(
    monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    # botocore's rule: naming a profile explicitly means "use that profile", so the
    # AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables are skipped.
    write(
        hermetic_env / "credentials",
        """
        [dev]
        aws_access_key_id = AKIADEV
        aws_secret_access_key = dev-secret
        """,
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    assert (await BotocoreCredentialProvider(profile="dev").get()).access_key_id == "AKIADEV"
    assert (await BotocoreCredentialProvider().get()).access_key_id == "AKIAENV"


async def test_no_credentials_raises_clear_error() -> None:
    provider = BotocoreCredentialProvider()
    with pytest.raises(NoCredentialsError, match="Unable to locate AWS credentials"):
        await provider.get()
    assert issubclass(NoCredentialsError, CredentialsError)


async def test_failed_load_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = BotocoreCredentialProvider()
    with pytest.raises(NoCredentialsError):
        await provider.get()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIALATER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "later-secret")
    assert (await provider.get()).access_key_id == "AKIALATER"


async def test_unknown_profile_raises_credentials_error() -> None:
    with pytest.raises(CredentialsError, match="nope"):
        await BotocoreCredentialProvider(profile="nope").get()


async def test_partial_env_credentials_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    with pytest.raises(CredentialsError, match="AWS_SECRET_ACCESS_KEY"):
        await BotocoreCredentialProvider().get()


async def test_concurrent_first_calls_share_one_chain_run(
    monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    import botocore.session

    calls: list[str] = []
    original = botocore.session.Session.get_credentials

    def slow_get_credentials(self: Any) -> Any:
        calls.append(threading.current_thread().name)
        time.sleep(0.2)
        return original(self)

    monkeypatch.setattr(botocore.session.Session, "get_credentials", slow_get_credentials)
    write_credentials_file(hermetic_env)
    provider = BotocoreCredentialProvider()
    results = await asyncio.gather(*(provider.get() for _ in range(25)))
    assert {c.access_key_id for c in results} == {"AKIAFILE"}
    assert len(calls) == 1
    assert calls[0] != threading.main_thread().name


class Heartbeat:
    """Ticks every few milliseconds; a long gap means the event loop was blocked."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.max_gap = 0.0
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            self.max_gap = max(self.max_gap, now - last)
            self.ticks += 1
            last = now

    async def __aenter__(self) -> Heartbeat:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


async def test_chain_never_blocks_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    import botocore.session

    original = botocore.session.Session.get_credentials

    def slow_get_credentials(self: Any) -> Any:
        time.sleep(0.6)  # a slow file system, or IMDS timing out
        return original(self)

    monkeypatch.setattr(botocore.session.Session, "get_credentials", slow_get_credentials)
    write_credentials_file(hermetic_env)
    async with Heartbeat() as beat:
        await BotocoreCredentialProvider().get()
    assert beat.ticks >= 10
    assert beat.max_gap < 0.3


def test_importing_aioecs_does_not_import_botocore() -> None:
    code = (
        "import sys, aioecs, aioecs._credentials, aioecs._config; "
        "assert 'botocore' not in sys.modules, sorted(m for m in sys.modules if 'boto' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- container credentials from a real local server -------------------------------------


@attrs.define
class CredentialServer:
    """A stand-in for the ECS/EKS container credentials endpoint."""

    lifetime: float = 3.0
    delay: float = 0.0
    fail: bool = False
    requests: int = 0
    authorizations: list[str | None] = attrs.Factory(list)
    issued: list[tuple[str, datetime]] = attrs.Factory(list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.authorizations.append(request.headers.get("Authorization"))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            return web.json_response({"message": "unavailable"}, status=500)
        n = len(self.issued) + 1
        expiry = utcnow() + timedelta(seconds=self.lifetime)
        key = f"ASIACONTAINER{n:04d}"
        self.issued.append((key, expiry))
        return web.json_response(
            {
                "AccessKeyId": key,
                "SecretAccessKey": f"{SECRET}-{n}",
                "Token": f"{TOKEN}-{n}",
                "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "RoleArn": "arn:aws:iam::123456789012:role/task",
            }
        )


ContainerFixture = tuple[CredentialServer, Callable[..., BotocoreCredentialProvider]]


@pytest.fixture
async def container(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ContainerFixture]:
    state = CredentialServer()
    app = web.Application()
    app.router.add_get("/v2/credentials/task", state.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    monkeypatch.setenv(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        f"http://127.0.0.1:{server.port}/v2/credentials/task",
    )
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth-token")

    def make(**kwargs: Any) -> BotocoreCredentialProvider:
        return BotocoreCredentialProvider(**kwargs)

    try:
        yield state, make
    finally:
        await server.close()


async def test_container_credentials(container: ContainerFixture) -> None:
    server, make = container
    server.lifetime = 3600
    provider = make()
    creds = await provider.get()
    assert creds.access_key_id == "ASIACONTAINER0001"
    assert creds.secret_access_key == f"{SECRET}-1"
    assert creds.session_token == f"{TOKEN}-1"
    assert creds.expiry is not None and creds.expiry.tzinfo is not None
    assert abs((creds.expiry - server.issued[0][1]).total_seconds()) < 0.001
    assert provider.method == "container-role"
    assert server.authorizations == ["container-auth-token"]
    # Outside the refresh windows: no further requests.
    for _ in range(10):
        assert await provider.get() is creds
    assert server.requests == 1


async def test_container_refresh_windows_exactly_one_refresh(
    container: ContainerFixture,
) -> None:
    server, make = container
    server.lifetime = 3.0
    server.delay = 0.2
    provider = make(advisory_refresh_seconds=2.0, mandatory_refresh_seconds=1.0)

    def remaining(creds: Credentials) -> float:
        assert creds.expiry is not None
        return (creds.expiry - utcnow()).total_seconds()

    async with Heartbeat() as beat:
        # First use: everyone waits for the one initial fetch.
        first = await asyncio.gather(*(provider.get() for _ in range(50)))
        assert server.requests == 1
        assert {c.access_key_id for c in first} == {"ASIACONTAINER0001"}
        # Still fresh: served from the cache.
        await asyncio.gather(*(provider.get() for _ in range(50)))
        assert server.requests == 1

        # Mandatory window: everyone waits for one refresh and gets the new credentials.
        await asyncio.sleep(remaining(first[0]) - 0.6)
        second = await asyncio.gather(*(provider.get() for _ in range(50)))
        assert server.requests == 2
        assert {c.access_key_id for c in second} == {"ASIACONTAINER0002"}
        assert all(remaining(c) > 0 for c in second)

        # Advisory window: one caller refreshes, the others keep the still-valid old ones.
        await asyncio.sleep(remaining(second[0]) - 1.5)
        third = await asyncio.gather(*(provider.get() for _ in range(50)))
        assert server.requests == 3
        keys = [c.access_key_id for c in third]
        assert keys.count("ASIACONTAINER0003") == 1
        assert keys.count("ASIACONTAINER0002") == 49
        assert (await provider.get()).access_key_id == "ASIACONTAINER0003"
        assert server.requests == 3
    assert server.authorizations == ["container-auth-token"] * 3
    assert beat.max_gap < 0.3


async def test_container_many_tasks_never_get_expired_credentials(
    container: ContainerFixture,
) -> None:
    server, make = container
    server.lifetime = 1.5
    server.delay = 0.05
    provider = make(advisory_refresh_seconds=0.9, mandatory_refresh_seconds=0.5)
    seen: list[str] = []
    problems: list[str] = []
    deadline = time.monotonic() + 4.0

    async def worker(i: int) -> None:
        while time.monotonic() < deadline:
            creds = await provider.get()
            assert creds.expiry is not None
            if creds.expiry <= utcnow():
                problems.append(f"expired credentials {creds.access_key_id}")
            seen.append(creds.access_key_id)
            await asyncio.sleep(0.001 * (i % 7))

    async with Heartbeat() as beat:
        await asyncio.gather(*(worker(i) for i in range(40)))

    assert not problems
    issued = [key for key, _ in server.issued]
    # One request per credential generation: never two refreshes for the same expiry.
    assert server.requests == len(issued) >= 4
    assert set(seen) == set(issued)
    expiries = [expiry for _, expiry in server.issued]
    for earlier, later in itertools.pairwise(expiries):
        # Each refresh happened inside the previous generation's advisory window.
        assert (later - earlier).total_seconds() >= (1.5 - 0.9) - 0.05
    assert beat.max_gap < 0.3


async def test_container_mandatory_refresh_failure_raises(
    container: ContainerFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.utils

    # botocore retries the container endpoint with 1 s pauses; no need to wait here.
    monkeypatch.setattr(botocore.utils.ContainerMetadataFetcher, "SLEEP_TIME", 0)
    server, make = container
    server.lifetime = 3600
    # Windows wider than the lifetime: every call after the first is mandatory.
    provider = make(advisory_refresh_seconds=7200, mandatory_refresh_seconds=7200)
    await provider.get()  # the chain's fetch, then at once a (mandatory) refresh
    assert server.requests == 2
    server.fail = True
    with pytest.raises(CredentialsError) as info:
        await provider.get()
    assert "container-role" in str(info.value)
    assert server.requests == 2 + 3  # botocore's own retries, all in the worker thread
    assert SECRET not in str(info.value) and TOKEN not in str(info.value)


# --- container credentials: every way ECS and EKS hand them to a container --------------


@pytest.fixture
async def endpoint_server(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[CredentialServer, str]]:
    """A credentials endpoint on loopback at ECS's path and EKS Pod Identity's, no variable set
    yet: yields the server and its base URL. botocore's retries do not pause."""
    import botocore.utils

    monkeypatch.setattr(botocore.utils.ContainerMetadataFetcher, "SLEEP_TIME", 0)
    state = CredentialServer(lifetime=3600)
    app = web.Application()
    app.router.add_get("/v2/credentials/{id}", state.handle)
    app.router.add_get("/v1/credentials", state.handle)  # EKS Pod Identity's agent
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield state, f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


async def test_container_credentials_relative_uri(
    endpoint_server: tuple[CredentialServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.utils

    # ECS's form: a path on the agent's fixed address (169.254.170.2), no token; here the
    # fixed address is pointed at the loopback server.
    server, base = endpoint_server
    monkeypatch.setattr(botocore.utils.ContainerMetadataFetcher, "IP_ADDRESS", base[7:])
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/4f2c-task")
    provider = BotocoreCredentialProvider()
    creds = await provider.get()
    assert creds.access_key_id == "ASIACONTAINER0001"
    assert creds.session_token == f"{TOKEN}-1"
    assert provider.method == "container-role"
    assert server.authorizations == [None]


async def test_container_credentials_token_file_is_read_at_every_fetch(
    endpoint_server: tuple[CredentialServer, str],
    monkeypatch: pytest.MonkeyPatch,
    hermetic_env: Path,
) -> None:
    # EKS and ECS rotate the token file's content; the token variable, when both are set,
    # loses to the file.
    server, base = endpoint_server
    token_file = hermetic_env / "token"
    token_file.write_text("token-one")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{base}/v2/credentials/abc")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "the-variable-loses")
    # Windows wider than the lifetime: every call after the first refreshes.
    provider = BotocoreCredentialProvider(
        advisory_refresh_seconds=7200, mandatory_refresh_seconds=7200
    )
    await provider.get()
    token_file.write_text("token-two")
    assert (await provider.get()).access_key_id == "ASIACONTAINER0003"
    assert server.authorizations == ["token-one", "token-one", "token-two"]


async def test_eks_pod_identity_credentials(
    endpoint_server: tuple[CredentialServer, str],
    monkeypatch: pytest.MonkeyPatch,
    hermetic_env: Path,
) -> None:
    # EKS Pod Identity: FULL_URI http://169.254.170.23/v1/credentials and a token file. That
    # address cannot be bound in a test; the loopback server stands at the same path.
    server, base = endpoint_server
    token_file = hermetic_env / "eks-pod-identity-token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.pod-identity")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{base}/v1/credentials")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
    provider = BotocoreCredentialProvider()
    creds = await provider.get()
    assert creds.access_key_id == "ASIACONTAINER0001"
    assert creds.expiry is not None
    assert abs((creds.expiry - server.issued[0][1]).total_seconds()) < 0.001
    assert provider.method == "container-role"
    assert server.authorizations == ["eyJhbGciOiJSUzI1NiJ9.pod-identity"]


async def test_full_uri_off_the_allowed_hosts_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore sends the token only to loopback, the ECS/EKS agents' addresses, or https.
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.10/creds")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth-token")
    with pytest.raises(CredentialsError) as info:
        await BotocoreCredentialProvider().get()
    assert "container-auth-token" not in str(info.value)


async def test_client_signs_with_container_credentials(
    container: ContainerFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aioecs import ECSClient
    from aioecs.testing import LocalECS

    server, _ = container
    server.lifetime = 3600
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    async with LocalECS(region="eu-west-1") as local:
        # The key the container endpoint will issue first, and only that one.
        local.allow_key("ASIACONTAINER0001", f"{SECRET}-1")
        async with ECSClient(endpoint_url=local.endpoint_url) as ecs:
            assert (await ecs.list_clusters()).cluster_arns == []
            local.revoke_key("ASIACONTAINER0001")
            with pytest.raises(ECSError) as info:
                await ecs.list_clusters()
    assert info.value.code == "UnrecognizedClientException"
    assert server.requests == 1
    assert server.authorizations == ["container-auth-token"]


async def test_credential_process_refresh_uses_botocore_refresh(hermetic_env: Path) -> None:
    # credential_process with an Expiration yields botocore RefreshableCredentials: our
    # refresh must call the process again (in a thread) with our windows, not botocore's.
    counter = hermetic_env / "count"
    script = hermetic_env / "creds.py"
    write(
        script,
        f"""
        import json, pathlib
        from datetime import datetime, timedelta, timezone
        p = pathlib.Path({str(counter)!r})
        n = int(p.read_text()) + 1 if p.exists() else 1
        p.write_text(str(n))
        print(json.dumps({{
            "Version": 1,
            "AccessKeyId": f"ASIAPROC{{n}}",
            "SecretAccessKey": "process-secret",
            "SessionToken": "process-token",
            "Expiration": (datetime.now(timezone.utc) + timedelta(seconds=60)).isoformat(),
        }}))
        """,
    )
    write(
        hermetic_env / "config",
        f"""
        [profile proc]
        credential_process = {sys.executable} {script}
        """,
    )
    clock_offset = timedelta(0)

    def clock() -> datetime:
        return utcnow() + clock_offset

    provider = BotocoreCredentialProvider(
        profile="proc", advisory_refresh_seconds=30, mandatory_refresh_seconds=20, clock=clock
    )
    assert (await provider.get()).access_key_id == "ASIAPROC1"
    assert provider.method == "custom-process"
    assert (await provider.get()).access_key_id == "ASIAPROC1"
    clock_offset = timedelta(seconds=45)  # now inside the mandatory window
    assert (await provider.get()).access_key_id == "ASIAPROC2"
    assert counter.read_text() == "2"


# --- RefreshableCredentialProvider with a fake clock -------------------------------------


@attrs.define
class FakeClock:
    now: datetime = datetime(2030, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@attrs.define
class FakeRefresher:
    """An async refresh function that a test can gate, fail, and count."""

    clock: FakeClock
    lifetime: float = 100.0
    calls: int = 0
    fail_with: BaseException | None = None
    gate: asyncio.Event | None = None

    async def __call__(self) -> Credentials:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return Credentials(
            access_key_id=f"ASIA{self.calls}",
            secret_access_key=f"{SECRET}{self.calls}",
            session_token=TOKEN,
            expiry=self.clock() + timedelta(seconds=self.lifetime),
        )


def make_provider(
    lifetime: float = 100.0, advisory: float = 15.0, mandatory: float = 10.0
) -> tuple[RefreshableCredentialProvider, FakeRefresher, FakeClock]:
    clock = FakeClock()
    refresher = FakeRefresher(clock, lifetime)
    provider = RefreshableCredentialProvider(
        refresher,
        advisory_refresh_seconds=advisory,
        mandatory_refresh_seconds=mandatory,
        clock=clock,
    )
    return provider, refresher, clock


async def gather_soon(coros: list[Awaitable[Credentials]]) -> asyncio.Future[list[Credentials]]:
    future = asyncio.gather(*coros)
    for _ in range(5):
        await asyncio.sleep(0)
    return future


async def test_refresh_not_needed_outside_windows() -> None:
    provider, refresher, clock = make_provider()
    first = await provider.get()
    clock.advance(84)  # 16 s left: outside the 15 s advisory window
    assert await provider.get() is first
    assert refresher.calls == 1


async def test_advisory_refresh_one_caller_others_keep_old() -> None:
    provider, refresher, clock = make_provider()
    first = await provider.get()
    clock.advance(88)  # 12 s left: advisory window
    refresher.gate = asyncio.Event()
    refreshing = asyncio.ensure_future(provider.get())
    await asyncio.sleep(0)
    # While the refresh is in flight, everyone else gets the old (still valid) ones now.
    others = await asyncio.gather(*(provider.get() for _ in range(20)))
    assert all(c is first for c in others)
    assert not refreshing.done()
    refresher.gate.set()
    assert (await refreshing).access_key_id == "ASIA2"
    assert refresher.calls == 2
    assert (await provider.get()).access_key_id == "ASIA2"


async def test_advisory_refresh_failure_keeps_old_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider, refresher, clock = make_provider()
    first = await provider.get()
    clock.advance(88)
    refresher.fail_with = OSError(f"boom {SECRET}")
    assert await provider.get() is first
    assert "advisory" in caplog.text
    assert SECRET not in caplog.text
    # The next call tries again.
    refresher.fail_with = None
    assert (await provider.get()).access_key_id == "ASIA3"


async def test_mandatory_refresh_everyone_waits_for_one_refresh() -> None:
    provider, refresher, clock = make_provider()
    await provider.get()
    clock.advance(95)  # 5 s left: mandatory window
    refresher.gate = asyncio.Event()
    pending = await gather_soon([provider.get() for _ in range(30)])
    assert not pending.done()
    assert refresher.calls == 2
    refresher.gate.set()
    results = await pending
    assert {c.access_key_id for c in results} == {"ASIA2"}
    assert refresher.calls == 2


async def test_mandatory_refresh_failure_raises_for_all_waiters_then_retries() -> None:
    provider, refresher, clock = make_provider()
    await provider.get()
    clock.advance(95)
    refresher.gate = asyncio.Event()
    refresher.fail_with = RuntimeError(SECRET)
    pending = await gather_soon([provider.get() for _ in range(10)])
    refresher.gate.set()
    results = await asyncio.gather(pending, return_exceptions=True)
    errors = results[0]
    assert isinstance(errors, CredentialsError)
    assert SECRET not in str(errors)
    assert "RuntimeError" in str(errors)
    assert refresher.calls == 2
    refresher.fail_with = None
    assert (await provider.get()).access_key_id == "ASIA3"


async def test_expired_credentials_force_refresh_and_expired_refresh_raises() -> None:
    provider, refresher, clock = make_provider(lifetime=100)
    await provider.get()
    clock.advance(500)
    assert (await provider.get()).access_key_id == "ASIA2"
    refresher.lifetime = -1
    clock.advance(500)
    with pytest.raises(CredentialsError, match="already expired"):
        await provider.get()


async def test_cancelled_caller_does_not_cancel_shared_refresh() -> None:
    provider, refresher, _ = make_provider()
    refresher.gate = asyncio.Event()
    starter = asyncio.ensure_future(provider.get())
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(provider.get())
    await asyncio.sleep(0)
    starter.cancel()
    await asyncio.sleep(0)
    refresher.gate.set()
    assert (await waiter).access_key_id == "ASIA1"
    assert refresher.calls == 1
    assert starter.cancelled()


async def test_non_expiring_refreshable_credentials_are_kept() -> None:
    async def refresh() -> Credentials:
        return Credentials(access_key_id="AKIA", secret_access_key=SECRET)

    provider = RefreshableCredentialProvider(refresh)
    first = await provider.get()
    assert await provider.get() is first


async def test_naive_expiry_is_treated_as_utc() -> None:
    clock = FakeClock()

    async def refresh() -> Credentials:
        naive = (clock() + timedelta(seconds=100)).replace(tzinfo=None)
        return Credentials(access_key_id="AKIA", secret_access_key=SECRET, expiry=naive)

    provider = RefreshableCredentialProvider(refresh, clock=clock)
    creds = await provider.get()
    assert creds.expiry == clock() + timedelta(seconds=100)


def test_window_validation() -> None:
    async def refresh() -> Credentials:
        raise NotImplementedError

    with pytest.raises(ValueError):
        RefreshableCredentialProvider(
            refresh, advisory_refresh_seconds=5, mandatory_refresh_seconds=10
        )
    with pytest.raises(ValueError):
        RefreshableCredentialProvider(refresh, mandatory_refresh_seconds=-1)
    with pytest.raises(ValueError):
        BotocoreCredentialProvider(advisory_refresh_seconds=1, mandatory_refresh_seconds=2)


# --- static credentials and secret hygiene ---------------------------------------------


async def test_static_credentials() -> None:
    creds = Credentials(access_key_id="AKIA", secret_access_key=SECRET, session_token=TOKEN)
    assert await StaticCredentials(creds).get() == creds
    expired = attrs.evolve(creds, expiry=utcnow() - timedelta(seconds=1))
    with pytest.raises(CredentialsError, match="expired") as info:
        await StaticCredentials(expired).get()
    assert SECRET not in str(info.value) and TOKEN not in str(info.value)


async def test_no_secret_in_any_repr_or_str(container: ContainerFixture) -> None:
    server, make = container
    server.lifetime = 3600
    creds = Credentials(
        access_key_id="AKIA", secret_access_key=SECRET, session_token=TOKEN, expiry=utcnow()
    )

    async def refresh() -> Credentials:
        return attrs.evolve(creds, expiry=utcnow() + timedelta(hours=1))

    refreshable = RefreshableCredentialProvider(refresh)
    await refreshable.get()
    botocore_provider = make()
    container_creds = await botocore_provider.get()
    objects: list[object] = [
        creds,
        container_creds,
        StaticCredentials(creds),
        refreshable,
        botocore_provider,
    ]
    for obj in objects:
        for text in (repr(obj), str(obj), f"{obj}"):
            assert SECRET not in text, text
            assert TOKEN not in text, text
    assert "***" in repr(creds)


async def test_no_secret_in_error_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    async def leaky_refresh() -> Credentials:
        raise ValueError(f"bad response {SECRET} {TOKEN}")

    with pytest.raises(CredentialsError) as info:
        await RefreshableCredentialProvider(leaky_refresh).get()
    assert SECRET not in str(info.value) and TOKEN not in str(info.value)
    assert "ValueError" in str(info.value)

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", "not-a-date")
    with pytest.raises(CredentialsError) as info:
        await BotocoreCredentialProvider().get()
    assert SECRET not in str(info.value) and TOKEN not in str(info.value)


def test_botocore_refresh_metadata_conversion() -> None:
    from aioecs._credentials import _call_refresh

    with pytest.raises(CredentialsError, match="did not contain access_key, secret_key"):
        _call_refresh(dict)  # botocore's IMDS fetcher returns {} when it fails
    expiry = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    raws: list[object] = [expiry, "2031-05-06T07:08:09Z", "2031-05-06T09:08:09+02:00"]
    for raw in raws:
        metadata = {"access_key": "ASIA", "secret_key": SECRET, "token": "", "expiry_time": raw}
        creds = _call_refresh(functools.partial(dict, metadata))
        assert creds.expiry == expiry
        assert creds.expiry.tzinfo is not None
        assert creds.session_token is None
