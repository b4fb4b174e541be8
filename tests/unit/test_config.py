"""Tests for aioecs._config: region, endpoint and credential-provider resolution.

Every test runs in conftest's `hermetic_env`: all AWS_* variables cleared, the shared files
(and HOME) pointed into tmp_path, IMDS disabled.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import aioecs._config as config_module
from aioecs._config import (
    ConfigError,
    InvalidEndpointError,
    NoRegionError,
    ResolvedConfig,
    resolve_config,
    resolve_rules_endpoint,
    validate_endpoint_url,
    validate_region,
)
from aioecs._credentials import (
    BotocoreCredentialProvider,
    Credentials,
    CredentialsError,
    StaticCredentials,
)

from .._env import hermetic_environ

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKENVALUE"
CREDS = Credentials(access_key_id="AKIATEST", secret_access_key=SECRET, session_token=TOKEN)


pytestmark = pytest.mark.usefixtures("hermetic_env")


def write_config(home: Path, text: str) -> None:
    (home / "config").write_text(textwrap.dedent(text).lstrip())


# --- region --------------------------------------------------------------------------


async def test_region_precedence(monkeypatch: pytest.MonkeyPatch, hermetic_env: Path) -> None:
    write_config(
        hermetic_env,
        """
        [default]
        region = eu-north-1
        """,
    )
    assert (await resolve_config(credentials=CREDS)).region == "eu-north-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    assert (await resolve_config(credentials=CREDS)).region == "eu-west-2"
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert (await resolve_config(credentials=CREDS)).region == "ap-south-1"
    assert (await resolve_config(region="sa-east-1", credentials=CREDS)).region == "sa-east-1"


async def test_empty_env_region_counts_as_unset(
    monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    write_config(hermetic_env, "[default]\nregion = eu-north-1\n")
    monkeypatch.setenv("AWS_REGION", "")
    assert (await resolve_config(credentials=CREDS)).region == "eu-north-1"


async def test_named_profile_region(monkeypatch: pytest.MonkeyPatch, hermetic_env: Path) -> None:
    write_config(
        hermetic_env,
        """
        [default]
        region = us-east-1
        [profile dev]
        region = eu-central-1
        [profile ops]
        region = ap-northeast-1
        """,
    )
    assert (await resolve_config(credentials=CREDS)).region == "us-east-1"
    monkeypatch.setenv("AWS_PROFILE", "dev")
    resolved = await resolve_config(credentials=CREDS)
    assert (resolved.region, resolved.profile) == ("eu-central-1", "dev")
    resolved = await resolve_config(profile="ops", credentials=CREDS)
    assert (resolved.region, resolved.profile) == ("ap-northeast-1", "ops")
    assert resolved.endpoint_url == "https://ecs.ap-northeast-1.amazonaws.com"


async def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'missing'"):
        await resolve_config(profile="missing", credentials=CREDS)


async def test_no_region_error(hermetic_env: Path) -> None:
    with pytest.raises(NoRegionError, match="AWS_REGION"):
        await resolve_config(credentials=CREDS)
    write_config(hermetic_env, "[default]\noutput = json\n")
    with pytest.raises(NoRegionError):
        await resolve_config(credentials=CREDS)
    assert issubclass(NoRegionError, ConfigError)


@pytest.mark.parametrize(
    "region", ["evil.example.com/#", "us-east-1.evil.com", "", "-us", "123", "a" * 64, "us east"]
)
async def test_invalid_region_rejected(region: str) -> None:
    with pytest.raises(ConfigError, match="Invalid region"):
        validate_region(region)
    if region:
        with pytest.raises(ConfigError, match="Invalid region"):
            await resolve_config(region=region, credentials=CREDS)


# --- endpoint rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "fips", "dualstack", "expected"),
    [
        ("us-east-1", False, False, "https://ecs.us-east-1.amazonaws.com"),
        ("us-east-1", True, False, "https://ecs-fips.us-east-1.amazonaws.com"),
        ("us-east-1", False, True, "https://ecs.us-east-1.api.aws"),
        ("us-east-1", True, True, "https://ecs-fips.us-east-1.api.aws"),
        ("eu-west-1", False, False, "https://ecs.eu-west-1.amazonaws.com"),
        ("cn-north-1", False, False, "https://ecs.cn-north-1.amazonaws.com.cn"),
        ("cn-northwest-1", False, False, "https://ecs.cn-northwest-1.amazonaws.com.cn"),
        ("us-gov-west-1", False, False, "https://ecs.us-gov-west-1.amazonaws.com"),
        ("us-gov-west-1", True, False, "https://ecs-fips.us-gov-west-1.amazonaws.com"),
        ("us-gov-east-1", False, False, "https://ecs.us-gov-east-1.amazonaws.com"),
        ("us-gov-east-1", True, True, "https://ecs-fips.us-gov-east-1.api.aws"),
    ],
)
async def test_endpoint_rules(region: str, fips: bool, dualstack: bool, expected: str) -> None:
    resolved = await resolve_config(
        region=region, use_fips=fips, use_dualstack=dualstack, credentials=CREDS
    )
    assert resolved.endpoint_url == expected
    assert resolved.host == expected.removeprefix("https://")
    assert resolved.endpoint_source == "rules"
    assert (resolved.use_fips, resolved.use_dualstack) == (fips, dualstack)
    assert await resolve_rules_endpoint(region, use_fips=fips, use_dualstack=dualstack) == expected


async def test_fips_and_dualstack_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    resolved = await resolve_config(region="us-east-1", credentials=CREDS)
    assert resolved.endpoint_url == "https://ecs-fips.us-east-1.amazonaws.com"
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "false")
    monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", "TRUE")
    resolved = await resolve_config(region="us-east-1", credentials=CREDS)
    assert resolved.endpoint_url == "https://ecs.us-east-1.api.aws"
    # The explicit argument beats the environment.
    resolved = await resolve_config(region="us-east-1", use_dualstack=False, credentials=CREDS)
    assert resolved.endpoint_url == "https://ecs.us-east-1.amazonaws.com"


async def test_fips_and_dualstack_from_config_file(
    monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    write_config(
        hermetic_env,
        """
        [default]
        region = us-west-2
        use_fips_endpoint = true
        use_dualstack_endpoint = true
        """,
    )
    resolved = await resolve_config(credentials=CREDS)
    assert resolved.endpoint_url == "https://ecs-fips.us-west-2.api.aws"
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "false")
    resolved = await resolve_config(credentials=CREDS)
    assert resolved.endpoint_url == "https://ecs.us-west-2.api.aws"


async def test_rules_are_resolved_once_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    url = await resolve_rules_endpoint("ca-central-1")

    def fail(*args: Any) -> str:
        raise AssertionError("the rule set was evaluated again")

    monkeypatch.setattr(config_module, "_resolve_rules_blocking", fail)
    assert await resolve_rules_endpoint("ca-central-1") == url
    assert (await resolve_config(region="ca-central-1", credentials=CREDS)).endpoint_url == url


async def test_blocking_work_runs_in_worker_threads(
    monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    write_config(hermetic_env, "[default]\nregion = me-south-1\n")
    threads: list[str] = []
    real_read = config_module._read_shared_config
    real_rules = config_module._resolve_rules_blocking

    def read(profile: str | None) -> Any:
        threads.append(threading.current_thread().name)
        return real_read(profile)

    def rules(*args: Any) -> str:
        threads.append(threading.current_thread().name)
        return real_rules(*args)

    monkeypatch.setattr(config_module, "_read_shared_config", read)
    monkeypatch.setattr(config_module, "_resolve_rules_blocking", rules)
    config_module._rules_cache.pop(("me-south-1", False, False), None)
    resolved = await resolve_config(credentials=CREDS)
    assert resolved.endpoint_url == "https://ecs.me-south-1.amazonaws.com"
    assert len(threads) == 2
    assert threading.main_thread().name not in threads


async def test_heartbeat_keeps_ticking_during_resolution(
    monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    import time

    write_config(hermetic_env, "[default]\nregion = af-south-1\n")
    real_read = config_module._read_shared_config

    def slow_read(profile: str | None) -> Any:
        time.sleep(0.5)
        return real_read(profile)

    monkeypatch.setattr(config_module, "_read_shared_config", slow_read)
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0)
    await resolve_config(credentials=CREDS)
    beat.cancel()
    with pytest.raises(asyncio.CancelledError):
        await beat
    assert len(gaps) >= 10
    assert max(gaps) < 0.3


def test_fully_explicit_config_does_not_import_botocore(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import asyncio, sys
        from aioecs._config import resolve_config
        from aioecs._credentials import Credentials
        creds = Credentials(access_key_id="AKIA", secret_access_key="s")
        cfg = asyncio.run(resolve_config(
            region="us-east-1", endpoint_url="http://localhost:4566", credentials=creds,
            retry_mode="standard", max_attempts=3, verify=True))
        assert cfg.endpoint_url == "http://localhost:4566", cfg
        assert "botocore" not in sys.modules
        """
    )
    subprocess.run([sys.executable, "-c", code], env=hermetic_environ(tmp_path), check=True)


@pytest.mark.parametrize("config_file", [False, True])
def test_the_config_file_is_read_only_when_there_is_one(tmp_path: Path, config_file: bool) -> None:
    """Retry settings may come from the config file; with no file (nor profile) to say so,
    botocore's session module (a tenth of a second to import) is not loaded."""
    env = hermetic_environ(tmp_path)
    if config_file:
        (tmp_path / "config").write_text("[default]\nmax_attempts = 7\n")
        env["AWS_CONFIG_FILE"] = str(tmp_path / "config")
    code = textwrap.dedent(
        f"""
        import asyncio, sys
        from aioecs._config import resolve_config
        from aioecs._credentials import Credentials
        creds = Credentials(access_key_id="AKIA", secret_access_key="s")
        cfg = asyncio.run(resolve_config(
            region="us-east-1", endpoint_url="http://localhost:4566", credentials=creds))
        assert cfg.max_attempts == {7 if config_file else 3}, cfg.max_attempts
        assert ("botocore.session" in sys.modules) is {config_file}
        """
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


# --- configured endpoints ------------------------------------------------------------------


async def test_endpoint_precedence(monkeypatch: pytest.MonkeyPatch, hermetic_env: Path) -> None:
    write_config(
        hermetic_env,
        """
        [default]
        region = us-east-1
        endpoint_url = https://profile.example.com
        services = local
        [services local]
        ecs =
          endpoint_url = https://services.example.com
        """,
    )
    resolved = await resolve_config(credentials=CREDS)
    assert (resolved.endpoint_url, resolved.endpoint_source) == (
        "https://services.example.com",
        "config:services",
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://global-env.example.com")
    resolved = await resolve_config(credentials=CREDS)
    assert (resolved.endpoint_url, resolved.endpoint_source) == (
        "https://global-env.example.com",
        "env:AWS_ENDPOINT_URL",
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", "https://ecs-env.example.com")
    resolved = await resolve_config(credentials=CREDS)
    assert (resolved.endpoint_url, resolved.endpoint_source) == (
        "https://ecs-env.example.com",
        "env:AWS_ENDPOINT_URL_ECS",
    )
    resolved = await resolve_config(endpoint_url="https://arg.example.com/", credentials=CREDS)
    assert (resolved.endpoint_url, resolved.endpoint_source) == (
        "https://arg.example.com",
        "argument",
    )
    assert resolved.host == "arg.example.com"


async def test_profile_endpoint_url(hermetic_env: Path) -> None:
    write_config(
        hermetic_env,
        """
        [default]
        region = us-east-1
        endpoint_url = https://profile.example.com
        """,
    )
    resolved = await resolve_config(credentials=CREDS)
    assert (resolved.endpoint_url, resolved.endpoint_source) == (
        "https://profile.example.com",
        "config:profile",
    )


async def test_missing_services_section_is_an_error(hermetic_env: Path) -> None:
    write_config(hermetic_env, "[default]\nregion = us-east-1\nservices = nowhere\n")
    with pytest.raises(ConfigError, match="nowhere"):
        await resolve_config(credentials=CREDS)


async def test_ignore_configured_endpoint_urls(
    monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    write_config(
        hermetic_env,
        """
        [default]
        region = us-east-1
        endpoint_url = https://profile.example.com
        ignore_configured_endpoint_urls = true
        """,
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", "https://ecs-env.example.com")
    resolved = await resolve_config(credentials=CREDS)
    assert resolved.endpoint_url == "https://ecs.us-east-1.amazonaws.com"
    # The environment variable overrides the file's setting...
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false")
    assert (await resolve_config(credentials=CREDS)).endpoint_url == "https://ecs-env.example.com"
    # ...and an explicit argument is never ignored.
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    resolved = await resolve_config(endpoint_url="https://arg.example.com", credentials=CREDS)
    assert resolved.endpoint_url == "https://arg.example.com"


@pytest.mark.parametrize(
    "where", ["argument", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECS", "config"]
)
async def test_configured_endpoint_wins_over_fips_and_dualstack(
    monkeypatch: pytest.MonkeyPatch, hermetic_env: Path, where: str
) -> None:
    # botocore passes UseFIPS/UseDualStack to the rule set only when no endpoint is configured.
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", "true")
    write_config(hermetic_env, "[default]\nuse_fips_endpoint = true\n")
    url = "https://vpce-0abc.ecs.us-gov-west-1.vpce.amazonaws.com"
    if where == "config":
        write_config(hermetic_env, f"[default]\nuse_fips_endpoint = true\nendpoint_url = {url}\n")
    elif where != "argument":
        monkeypatch.setenv(where, url)
    resolved = await resolve_config(
        region="us-gov-west-1",
        endpoint_url=url if where == "argument" else None,
        use_fips=True if where == "argument" else None,
        credentials=CREDS,
    )
    assert resolved.endpoint_url == url


@pytest.mark.parametrize(
    ("region", "endpoint", "signing_region"),
    [
        ("fips-us-gov-west-1", "https://ecs-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        ("us-gov-west-1-fips", "https://ecs-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        ("us-east-1-fips", "https://ecs-fips.us-east-1.amazonaws.com", "us-east-1"),
        ("fips-us-east-1", "https://ecs-fips.us-east-1.amazonaws.com", "us-east-1"),
    ],
)
async def test_fips_pseudo_regions_map_like_botocore(
    region: str, endpoint: str, signing_region: str
) -> None:
    resolved = await resolve_config(region=region, credentials=CREDS)
    assert (resolved.endpoint_url, resolved.region, resolved.use_fips) == (
        endpoint,
        signing_region,
        True,
    )
    import botocore.session

    client = botocore.session.get_session().create_client(
        "ecs", region_name=region, aws_access_key_id="a", aws_secret_access_key="b"
    )
    assert client.meta.endpoint_url == endpoint
    assert client.meta.region_name == signing_region


# --- endpoint URL validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalised", "host"),
    [
        ("http://127.0.0.1:4566", "http://127.0.0.1:4566", "127.0.0.1:4566"),
        ("http://127.8.9.10:5000/", "http://127.8.9.10:5000", "127.8.9.10:5000"),
        ("http://[::1]:4566", "http://[::1]:4566", "[::1]:4566"),
        ("http://[::ffff:127.0.0.1]:80/", "http://[::ffff:127.0.0.1]", "[::ffff:127.0.0.1]"),
        ("http://localhost:4566/", "http://localhost:4566", "localhost:4566"),
        ("HTTP://LOCALHOST", "http://localhost", "localhost"),
        ("https://ecs.example.com:443/", "https://ecs.example.com", "ecs.example.com"),
        ("https://ecs.example.com:8443/prefix/", "https://ecs.example.com:8443/prefix", None),
    ],
)
def test_endpoint_url_accepted(url: str, normalised: str, host: str | None) -> None:
    got_url, got_host = validate_endpoint_url(url)
    assert got_url == normalised
    assert got_host == (host or "ecs.example.com:8443")


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "http://ecs.us-east-1.amazonaws.com",
        "http://10.0.0.5:4566",
        "http://169.254.170.2",
        "http://[2001:db8::1]",
        "http://localhost.evil.com",
        "http://127.0.0.1.nip.io",
    ],
)
async def test_plain_http_is_taken_as_given_with_a_warning(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(InvalidEndpointError, match="unencrypted"):
        validate_endpoint_url(url, allow_http=False)
    with caplog.at_level("WARNING", logger="aioecs"):
        resolved = await resolve_config(region="us-east-1", endpoint_url=url, credentials=CREDS)
    assert resolved.endpoint_url.startswith("http://")
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "plain http" in caplog.records[0].getMessage()
    caplog.clear()
    # allow_http=True says it is meant: no warning.
    with caplog.at_level("WARNING", logger="aioecs"):
        await resolve_config(
            region="us-east-1", endpoint_url=url, allow_http=True, credentials=CREDS
        )
    assert not caplog.records


async def test_plain_http_to_loopback_gives_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="aioecs"):
        await resolve_config(
            region="us-east-1", endpoint_url="http://127.0.0.1:4566", credentials=CREDS
        )
    assert not caplog.records


async def test_plain_http_from_env_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localstack:4566")
    resolved = await resolve_config(region="us-east-1", credentials=CREDS)
    assert (resolved.endpoint_url, resolved.endpoint_source) == (
        "http://localstack:4566",
        "env:AWS_ENDPOINT_URL",
    )


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("ftp://example.com", "https://"),
        ("example.com", "no scheme"),
        ("https://", "no host"),
        ("https://user:hunter2@example.com", "user information"),
        ("https://example.com/?X-Amz-Security-Token=hunter2", "query"),
        ("https://example.com/#hunter2", "query or fragment"),
        ("https://example.com:99999", "not a valid URL"),
        ("", "non-empty"),
    ],
)
def test_malformed_endpoint_urls(url: str, match: str) -> None:
    with pytest.raises(InvalidEndpointError, match=match) as info:
        validate_endpoint_url(url)
    assert "hunter2" not in str(info.value)


# --- credentials in the resolved config ------------------------------------------------------


async def test_explicit_credentials_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    resolved = await resolve_config(region="us-east-1", credentials=CREDS)
    assert isinstance(resolved.credential_provider, StaticCredentials)
    assert await resolved.credential_provider.get() == CREDS
    provider = StaticCredentials(CREDS)
    resolved = await resolve_config(region="us-east-1", credentials=provider)
    assert resolved.credential_provider is provider


async def test_env_then_profile_credentials(
    monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    write_config(
        hermetic_env,
        """
        [default]
        region = us-east-1
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = default-secret
        [profile dev]
        region = eu-west-1
        aws_access_key_id = AKIADEV
        aws_secret_access_key = dev-secret
        """,
    )
    resolved = await resolve_config()
    assert isinstance(resolved.credential_provider, BotocoreCredentialProvider)
    assert (await resolved.credential_provider.get()).access_key_id == "AKIADEFAULT"

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    resolved = await resolve_config()
    assert (await resolved.credential_provider.get()).access_key_id == "AKIAENV"

    resolved = await resolve_config(profile="dev")
    assert resolved.region == "eu-west-1"
    assert (await resolved.credential_provider.get()).access_key_id == "AKIADEV"


async def test_no_credentials_surfaces_on_first_use() -> None:
    resolved = await resolve_config(region="us-east-1")
    with pytest.raises(CredentialsError, match="Unable to locate"):
        await resolved.credential_provider.get()


async def test_no_secret_in_resolved_config_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    resolved = await resolve_config(region="us-east-1", credentials=CREDS)
    await resolved.credential_provider.get()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    chained = await resolve_config(region="us-east-1")
    assert (await chained.credential_provider.get()).secret_access_key == SECRET
    for obj in (resolved, chained, resolved.credential_provider, chained.credential_provider):
        for text in (repr(obj), str(obj)):
            assert SECRET not in text and TOKEN not in text, text
    assert isinstance(resolved, ResolvedConfig)

    attempts = [
        resolve_config(region="us-east-1", endpoint_url=f"https://AKIA:{SECRET}@example.com"),
        resolve_config(region="us-east-1", endpoint_url=f"https://example.com/?token={TOKEN}"),
        resolve_config(region="us-east-1", endpoint_url=f"https://example.com/#{SECRET}"),
        resolve_config(region="bad region"),
    ]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    for result in results:
        assert isinstance(result, ConfigError), result
        assert SECRET not in str(result) and TOKEN not in str(result)
