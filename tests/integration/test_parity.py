"""boto3 parity through the public API, against real loopback servers: the signed path, proxies,
CA bundles, retry settings from the environment and config file, FIPS pseudo-regions, and a
configured endpoint winning over FIPS/dual-stack settings.

Every test runs in conftest's `hermetic_env` (no AWS_* variables, shared files in tmp_path);
the proxy and CA-bundle variables that are not AWS_* are cleared here as well.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from aioecs import Credentials, ECSClient, RetryStrategy
from aioecs._exceptions import TransportError
from aioecs.errors import ServerException
from aioecs.testing import Faults, LocalECS

from ..servers import client_for

CREDS = Credentials(access_key_id="AKIDPARITY", secret_access_key="parity-secret")
_NOT_AWS_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "REQUESTS_CA_BUNDLE",
)


@pytest.fixture(autouse=True)
def _hermetic(hermetic_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _NOT_AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _serve(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> web.AppRunner:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
    return runner


def _port(runner: web.AppRunner) -> int:
    return int(runner.addresses[0][1])


_EMPTY_LIST = web.json_response({"clusterArns": []}, content_type="application/x-amz-json-1.1")


# --- the signed path -------------------------------------------------------------------------


async def test_an_endpoint_path_is_sent_and_signed_as_botocore_does() -> None:
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    async def gateway(request: web.Request) -> web.StreamResponse:
        seen.append((request.method, request.raw_path, dict(request.headers), await request.read()))
        return web.json_response({"clusterArns": []}, content_type="application/x-amz-json-1.1")

    runner = await _serve(gateway)
    try:
        url = f"http://127.0.0.1:{_port(runner)}/ecs"
        async with ECSClient(region="us-east-1", endpoint_url=url, credentials=CREDS) as ecs:
            assert (await ecs.list_clusters()).cluster_arns == []
    finally:
        await runner.cleanup()

    ((method, path, headers, body),) = seen
    assert (method, path) == ("POST", "/ecs/")  # botocore joins "/ecs" and "/" to "/ecs/"
    # Recompute the signature with botocore's signer from what the server received.
    authorization = headers["Authorization"]
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    request = AWSRequest(
        method=method,
        url=f"http://{headers['Host']}{path}",
        data=body,
        headers={name: value for name, value in headers.items() if name.lower() in signed},
    )
    request.context["timestamp"] = headers["X-Amz-Date"]
    signer = SigV4Auth(BotoCredentials("AKIDPARITY", "parity-secret"), "ecs", "us-east-1")
    canonical = signer.canonical_request(request)
    assert "\n/ecs/\n" in canonical
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    assert authorization.endswith(f"Signature={expected}")


# --- proxies ---------------------------------------------------------------------------------


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """A plain-http forward proxy on loopback: yields its URL and the URLs it forwarded."""
    forwarded: list[str] = []
    session = ClientSession(skip_auto_headers=("User-Agent", "Content-Type"))

    async def forward(request: web.Request) -> web.StreamResponse:
        target = str(request.url)  # absolute-form request line: the target URL
        forwarded.append(target)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "proxy-connection"}
        async with session.request(
            request.method, target, headers=headers, data=await request.read()
        ) as upstream:
            body = await upstream.read()
            reply = web.Response(body=body, status=upstream.status)
            reply.content_type = upstream.content_type
            for name in ("x-amzn-RequestId", "Date"):
                if name in upstream.headers:
                    reply.headers[name] = upstream.headers[name]
            return reply

    runner = await _serve(forward)
    try:
        yield f"http://127.0.0.1:{_port(runner)}", forwarded
    finally:
        await runner.cleanup()
        await session.close()


@pytest.fixture
async def local() -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=9) as server:
        yield server


async def test_http_proxy_from_the_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, proxy: tuple[str, list[str]], local: LocalECS
) -> None:
    proxy_url, forwarded = proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    async with client_for(local) as ecs:
        await ecs.create_cluster(cluster_name="via-proxy")
        assert (await ecs.list_clusters()).cluster_arns
    assert forwarded == [f"{local.endpoint_url}/", f"{local.endpoint_url}/"]
    assert local.request_count["ListClusters"] == 1


async def test_no_proxy_bypasses_the_proxy(
    monkeypatch: pytest.MonkeyPatch, proxy: tuple[str, list[str]], local: LocalECS
) -> None:
    proxy_url, forwarded = proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    async with client_for(local) as ecs:
        await ecs.list_clusters()
    assert forwarded == [] and local.request_count["ListClusters"] == 1


async def test_proxy_credentials_stay_out_of_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    from aioecs._config import resolve_config

    monkeypatch.setenv("HTTPS_PROXY", "http://user:proxy-pass@proxy.internal:3128")
    resolved = await resolve_config(region="us-east-1", credentials=CREDS)
    assert resolved.proxy == "http://user:proxy-pass@proxy.internal:3128"
    assert "proxy-pass" not in repr(resolved) and "proxy.internal" in repr(resolved)


# --- CA bundles ------------------------------------------------------------------------------


@pytest.fixture
async def tls_endpoint(certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)

    async def answer(request: web.Request) -> web.StreamResponse:
        return web.json_response({"clusterArns": ["c"]}, content_type="application/x-amz-json-1.1")

    runner = await _serve(answer, context)
    try:
        yield f"https://127.0.0.1:{_port(runner)}"
    finally:
        await runner.cleanup()


async def _list(url: str, **options: Any) -> list[str]:
    async with ECSClient(region="us-east-1", endpoint_url=url, credentials=CREDS, **options) as ecs:
        return (await ecs.list_clusters()).cluster_arns


async def test_self_signed_endpoint_is_refused_by_default(tls_endpoint: str) -> None:
    with pytest.raises(TransportError, match=r"[Cc]ertificate"):
        await _list(tls_endpoint, max_attempts=1)


@pytest.mark.parametrize("how", ["ca_bundle", "verify", "AWS_CA_BUNDLE", "config", "REQUESTS"])
async def test_a_ca_bundle_is_trusted(
    how: str,
    tls_endpoint: str,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    hermetic_env: Path,
) -> None:
    bundle = str(certificate[0])
    options: dict[str, Any] = {}
    if how == "ca_bundle":
        options["ca_bundle"] = bundle
    elif how == "verify":
        options["verify"] = bundle
    elif how == "AWS_CA_BUNDLE":
        monkeypatch.setenv("AWS_CA_BUNDLE", bundle)
    elif how == "config":
        (hermetic_env / "config").write_text(f"[default]\nca_bundle = {bundle}\n")
    else:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    assert await _list(tls_endpoint, **options) == ["c"]


async def test_verify_false_turns_verification_off(tls_endpoint: str) -> None:
    assert await _list(tls_endpoint, verify=False) == ["c"]


async def test_a_missing_ca_bundle_is_a_config_error(tls_endpoint: str, tmp_path: Path) -> None:
    from aioecs._config import ConfigError

    with pytest.raises(ConfigError, match="CA bundle"):
        await _list(tls_endpoint, ca_bundle=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="not both"):
        ECSClient(verify=False, ca_bundle="x.pem")


# --- retry settings from the environment and the config file -------------------------------


@pytest.mark.parametrize(
    ("env", "config", "argument", "attempts"),
    [
        (None, None, None, 3),
        ("5", None, None, 5),
        (None, "4", None, 4),
        ("5", "4", None, 5),
        ("5", "4", 2, 2),
    ],
)
async def test_max_attempts_like_botocore(
    env: str | None,
    config: str | None,
    argument: int | None,
    attempts: int,
    local: LocalECS,
    monkeypatch: pytest.MonkeyPatch,
    hermetic_env: Path,
) -> None:
    if env is not None:
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", env)
    if config is not None:
        (hermetic_env / "config").write_text(f"[default]\nmax_attempts = {config}\n")
    local.faults = Faults(server_error=1.0, operations={"ListClusters"})
    no_jitter = RetryStrategy(rand=lambda: 0.0)  # no waiting in tests
    options = {} if argument is None else {"max_attempts": argument}
    ecs = client_for(local, retry_strategy=no_jitter, **options)
    async with ecs:
        with pytest.raises(ServerException):
            await ecs.list_clusters()
    assert local.request_count["ListClusters"] == attempts


async def test_retry_mode_from_env_and_config(
    local: LocalECS, monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    (hermetic_env / "config").write_text("[default]\nretry_mode = adaptive\n")
    async with client_for(local) as ecs:
        await ecs.list_clusters()
        assert ecs._pipeline is not None
        assert ecs._pipeline.retry.mode == "adaptive" and ecs._pipeline.retry.limiter is not None
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    async with client_for(local) as ecs:
        await ecs.list_clusters()
        assert ecs._pipeline is not None
        assert ecs._pipeline.retry.mode == "standard" and ecs._pipeline.retry.limiter is None
    async with client_for(local, retry_mode="adaptive") as ecs:
        assert ecs._pipeline is not None and ecs._pipeline.retry.mode == "adaptive"


@pytest.mark.parametrize(("name", "value"), [("AWS_MAX_ATTEMPTS", "many"), ("AWS_RETRY_MODE", "x")])
async def test_invalid_retry_settings_are_config_errors(
    name: str, value: str, local: LocalECS, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aioecs._config import ConfigError

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=repr(value)):
        async with client_for(local) as ecs:
            await ecs.list_clusters()


# --- FIPS ------------------------------------------------------------------------------------


async def test_fips_pseudo_region_signs_for_the_plain_region() -> None:
    # LocalECS checks the signature's credential scope against its own region.
    async with LocalECS(region="us-gov-west-1") as local:
        async with client_for(local, region="fips-us-gov-west-1") as ecs:
            await ecs.list_clusters()
            assert ecs.region == "us-gov-west-1"
        assert local.request_count["ListClusters"] == 1


async def test_configured_endpoint_wins_over_fips_and_dualstack_settings(
    local: LocalECS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", local.endpoint_url)
    key, secret = local.credentials
    creds = Credentials(access_key_id=key, secret_access_key=secret)
    async with ECSClient(region=local.region, credentials=creds) as ecs:
        await ecs.list_clusters()
    async with client_for(local, use_fips=True, use_dualstack=True) as ecs:
        await ecs.list_clusters()
    assert local.request_count["ListClusters"] == 2


async def test_plain_http_endpoint_to_a_named_host_is_taken(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Refused before unless allow_http=True; boto3 takes it (LocalStack in docker compose).
    with caplog.at_level("WARNING", logger="aioecs"):
        async with ECSClient(
            region="us-east-1", endpoint_url="http://localstack:4566", credentials=CREDS
        ) as ecs:
            assert ecs.endpoint_url == "http://localstack:4566"
    assert ["plain http" in r.getMessage() for r in caplog.records] == [True]
