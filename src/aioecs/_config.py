"""Where a client's region, endpoint and credentials come from.

The rules are boto3's, so that a program moved from boto3 to aioecs talks to the same
region and endpoint with the same credentials:

* **region**: the explicit argument, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else
  the profile's ``region`` in the shared config file. No region is an error, not a silent
  default: sending ECS calls to the wrong region is worse than failing.
* **endpoint**: the explicit ``endpoint_url``, else ``AWS_ENDPOINT_URL_ECS``, else
  ``AWS_ENDPOINT_URL``, else the profile's ``services`` section ``ecs.endpoint_url``, else the
  profile's ``endpoint_url`` (all but the argument switched off by
  ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS``/``ignore_configured_endpoint_urls``), else ECS's
  endpoint rule set from botocore's data, evaluated with Region/UseFIPS/UseDualStack.
  An explicitly configured endpoint wins over FIPS and dual-stack settings, as in botocore
  (which passes UseFIPS/UseDualStack to the rule set only when no endpoint is configured).
  FIPS pseudo-regions (``fips-us-gov-west-1``, ``us-east-1-fips``) mean the region without
  ``fips`` plus FIPS, as botocore's ``_normalize_fips_region`` does.
* **retries**: ``max_attempts``/``retry_mode`` arguments, else ``AWS_MAX_ATTEMPTS``/
  ``AWS_RETRY_MODE``, else the profile's ``max_attempts``/``retry_mode``, else 3/standard.
* **TLS**: ``verify=False`` turns verification off; a CA bundle path (``verify=`` or
  ``ca_bundle=``), else ``AWS_CA_BUNDLE``, else the profile's ``ca_bundle``, else
  ``REQUESTS_CA_BUNDLE`` (which botocore honours too) replaces the system trust store.
* **proxy**: ``HTTPS_PROXY``/``HTTP_PROXY`` (by the endpoint's scheme) unless ``NO_PROXY``
  matches the endpoint's host, with urllib's rules, as botocore does.
* **credentials**: explicit ones, else botocore's credential chain
  (:class:`~aioecs._credentials.BotocoreCredentialProvider`).

Reading the shared config file and loading the endpoint rules are blocking I/O (and need
botocore, whose import is slow), so they run in a worker thread, and only when the
explicit arguments and environment do not already settle the answer. Rule-set results are
cached per (region, fips, dualstack) for the life of the process.

An endpoint is only ever plain ``http://`` because someone configured it so (the rule set
gives https), and boto3 takes such an endpoint as given; so does aioecs, logging a warning
when it is not a loopback host (signed requests and the session token then travel in clear
text). ``allow_http=True`` says it is meant and silences the warning.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import ssl
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import attrs

from aioecs._credentials import (
    BotocoreCredentialProvider,
    CredentialProvider,
    Credentials,
    StaticCredentials,
)
from aioecs._exceptions import AioECSError
from aioecs._retry import RetryMode

__all__ = [
    "ConfigError",
    "InvalidEndpointError",
    "NoRegionError",
    "ResolvedConfig",
    "resolve_config",
    "resolve_rules_endpoint",
    "validate_endpoint_url",
    "validate_region",
]

_log = logging.getLogger("aioecs")

_SERVICE_ENDPOINT_ENV = "AWS_ENDPOINT_URL_ECS"
_DEFAULT_MAX_ATTEMPTS = 3
_SERVICE_CONFIG_KEY = "ecs"

# botocore's validate_region_name, minus its acceptance of the empty string: the region is
# put into a host name, so anything but a DNS label could redirect signed requests.
_REGION_RE = re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$")


class ConfigError(AioECSError):
    """The client configuration (region, endpoint, profile) is missing or invalid."""


class NoRegionError(ConfigError):
    """No region was given and none could be found in the environment or config file."""


class InvalidEndpointError(ConfigError):
    """The endpoint URL is malformed."""


@attrs.frozen(kw_only=True)
class ResolvedConfig:
    """Everything a client needs to know to address and sign requests.

    ``endpoint_url`` is normalised (lower-case scheme and host, no trailing slash, no
    default port); ``host`` is what goes in the ``Host`` header and into the SigV4
    signature (host, plus the port if it is not the scheme's default).
    ``endpoint_source`` says where the endpoint came from, for debugging
    (``"argument"``, ``"env:AWS_ENDPOINT_URL_ECS"``, ``"env:AWS_ENDPOINT_URL"``,
    ``"config:services"``, ``"config:profile"`` or ``"rules"``).
    """

    region: str
    endpoint_url: str
    host: str
    credential_provider: CredentialProvider = attrs.field(eq=False)
    use_fips: bool = False
    use_dualstack: bool = False
    profile: str | None = None
    endpoint_source: str = "rules"
    path: str = "/"
    """The request path, and the path signed: the endpoint's path plus ``/``, as botocore
    joins an endpoint path and the operation's ``/``."""
    max_attempts: int = _DEFAULT_MAX_ATTEMPTS
    verify: bool | str = True
    """True: the system's trust store; False: no TLS verification; a str: a CA bundle file."""
    proxy: str | None = attrs.field(default=None, repr=lambda url: _without_userinfo(url))
    """The proxy URL for this endpoint, from the environment (it may carry credentials, so
    its repr hides them)."""

    request_url: str = ""
    """Where requests go: the endpoint URL with :attr:`path`."""
    retry_mode: RetryMode = "standard"


def _env(environ: Mapping[str, str], name: str) -> str | None:
    """An environment variable, with empty meaning unset (as botocore treats most)."""
    value = environ.get(name)
    return value if value else None


def _bool_value(value: Any) -> bool | None:
    """botocore's ensure_boolean for config values: only ``true`` (any case) is true."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def validate_region(region: str) -> str:
    """Return ``region`` if it is a plausible region name, else raise :class:`ConfigError`.

    The region becomes part of the endpoint's host name, so a value such as
    ``evil.example/#`` must never reach the rule set.
    """
    if not isinstance(region, str) or not _REGION_RE.match(region):
        raise ConfigError(
            f"Invalid region name {region!r}: expected a name like 'us-east-1' "
            "(letters, digits and hyphens)."
        )
    return region


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def validate_endpoint_url(endpoint_url: str, *, allow_http: bool = True) -> tuple[str, str]:
    """Check an endpoint URL and return ``(normalised_url, host)``.

    Rejected, with :class:`InvalidEndpointError`: schemes other than http/https; URLs with
    no host, with user info (credentials in a URL end up in logs and reprs), a query or a
    fragment. ``http://`` to anything but a loopback host (127.0.0.0/8, ::1, ``localhost``)
    is refused only if ``allow_http`` is false (:func:`resolve_config` takes it, with a
    warning, as boto3 does). Error messages show only the scheme and host, never the rest of
    the URL.
    """
    if not isinstance(endpoint_url, str) or not endpoint_url.strip():
        raise InvalidEndpointError("endpoint_url must be a non-empty URL string.")
    try:
        parts = urlsplit(endpoint_url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidEndpointError(f"endpoint_url is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidEndpointError(
            f"endpoint_url must start with https:// (or http:// for a local endpoint), "
            f"not {scheme + '://' if scheme else 'no scheme'}."
        )
    if "@" in parts.netloc:
        raise InvalidEndpointError(
            "endpoint_url must not contain user information (user:password@)."
        )
    hostname = parts.hostname
    if not hostname:
        raise InvalidEndpointError(f"endpoint_url has no host ({scheme}://...).")
    if parts.query or parts.fragment:
        raise InvalidEndpointError(
            f"endpoint_url ({scheme}://{hostname}) must not have a query or fragment."
        )
    if scheme == "http" and not allow_http and not _is_loopback(hostname):
        raise InvalidEndpointError(
            f"Refusing plain-http endpoint_url http://{hostname}: signed requests and "
            "session tokens would travel unencrypted."
        )
    host = f"[{hostname}]" if ":" in hostname else hostname
    default_port = 443 if scheme == "https" else 80
    if port is not None and port != default_port:
        host = f"{host}:{port}"
    # Percent-encoded as it will go on the wire (aiohttp leaves such a path as it is), so the
    # path signed is the path sent.
    path = quote(parts.path.rstrip("/"), safe="/%!$&'()*+,;=:@~")
    return f"{scheme}://{host}{path}", host


def _without_userinfo(url: str | None) -> str:
    if url is None:
        return "None"
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return repr(url)
    return repr(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl())


def _proxy_for(endpoint_url: str) -> str | None:
    """The proxy botocore would use for this endpoint: urllib's ``getproxies`` (the
    ``*_PROXY`` variables, and the system settings on macOS and Windows) unless
    ``proxy_bypass`` (``NO_PROXY``) matches the host."""
    parts = urlsplit(endpoint_url)
    try:
        if urllib.request.proxy_bypass(parts.netloc):
            return None
    except (TypeError, OSError):  # botocore's should_bypass_proxies swallows these too
        pass
    return urllib.request.getproxies().get(parts.scheme) or None


# --- the endpoint rule set -------------------------------------------------------------

_rules_lock = threading.Lock()
_rules_provider: Any = None
_rules_cache: dict[tuple[str, bool, bool], str] = {}


def _resolve_rules_blocking(region: str, use_fips: bool, use_dualstack: bool) -> str:
    """Evaluate ECS's endpoint rule set. Blocking (loads botocore data): worker thread."""
    global _rules_provider
    key = (region, use_fips, use_dualstack)
    with _rules_lock:
        cached = _rules_cache.get(key)
        if cached is not None:
            return cached
        if _rules_provider is None:
            from botocore.endpoint_provider import EndpointProvider
            from botocore.loaders import create_loader

            loader = create_loader()
            _rules_provider = EndpointProvider(
                ruleset_data=loader.load_service_model("ecs", "endpoint-rule-set-1"),
                partition_data=loader.load_data("partitions"),
            )
        provider = _rules_provider
    from botocore.exceptions import BotoCoreError

    try:
        endpoint = provider.resolve_endpoint(
            Region=region, UseFIPS=use_fips, UseDualStack=use_dualstack
        )
    except BotoCoreError as exc:
        raise ConfigError(
            f"No ECS endpoint for region {region!r} (use_fips={use_fips}, "
            f"use_dualstack={use_dualstack}): {exc}"
        ) from exc
    url = str(endpoint.url)
    with _rules_lock:
        _rules_cache[key] = url
    return url


async def resolve_rules_endpoint(
    region: str, *, use_fips: bool = False, use_dualstack: bool = False
) -> str:
    """The ECS endpoint URL that botocore's rule set gives for these parameters.

    Cached per (region, use_fips, use_dualstack); only a cache miss goes to a worker
    thread (loading the rule set and partition data is file I/O plus JSON parsing).
    """
    validate_region(region)
    cached = _rules_cache.get((region, use_fips, use_dualstack))
    if cached is not None:
        return cached
    return await asyncio.to_thread(_resolve_rules_blocking, region, use_fips, use_dualstack)


# --- the shared config file ------------------------------------------------------------


@attrs.frozen
class _FileSettings:
    region: str | None
    use_fips: bool | None
    use_dualstack: bool | None
    ignore_configured_endpoints: bool | None
    services_endpoint: str | None
    profile_endpoint: str | None
    profile: str | None
    session: Any
    max_attempts: str | None = None
    retry_mode: str | None = None
    ca_bundle: str | None = None


def _shared_files_may_say(environ: Mapping[str, str]) -> bool:
    """Whether a shared config or credentials file exists, or a profile is named."""
    if _env(environ, "AWS_PROFILE") or _env(environ, "AWS_DEFAULT_PROFILE"):
        return True
    files = (
        _env(environ, "AWS_CONFIG_FILE") or "~/.aws/config",
        _env(environ, "AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials",
    )
    return any(os.path.isfile(os.path.expanduser(path)) for path in files)


def _read_shared_config(profile: str | None) -> _FileSettings:
    """Read the profile's settings from the shared config (and credentials) file.

    Blocking: call from a worker thread. The botocore session is returned so the
    credential chain can reuse the already-parsed files.
    """
    import botocore.session
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    session = botocore.session.Session(profile=profile)
    try:
        scoped: Mapping[str, Any] = session.get_scoped_config()
        full: Mapping[str, Any] = session.full_config
    except ProfileNotFound as exc:
        raise ConfigError(f"The AWS profile {exc.kwargs.get('profile')!r} was not found.") from exc
    except BotoCoreError as exc:
        raise ConfigError(f"Could not read the shared AWS config file: {exc}") from exc

    services_endpoint: str | None = None
    section_name = scoped.get("services")
    if section_name:
        section = full.get("services", {}).get(section_name)
        if not section:
            raise ConfigError(
                f"The profile refers to services section {section_name!r}, "
                "which is not in the config file."
            )
        service = section.get(_SERVICE_CONFIG_KEY)
        if isinstance(service, Mapping):
            services_endpoint = service.get("endpoint_url") or None

    return _FileSettings(
        region=scoped.get("region") or None,
        use_fips=_bool_value(scoped.get("use_fips_endpoint")),
        use_dualstack=_bool_value(scoped.get("use_dualstack_endpoint")),
        ignore_configured_endpoints=_bool_value(scoped.get("ignore_configured_endpoint_urls")),
        services_endpoint=services_endpoint,
        profile_endpoint=scoped.get("endpoint_url") or None,
        profile=session.profile,
        session=session,
        max_attempts=scoped.get("max_attempts") or None,
        retry_mode=scoped.get("retry_mode") or None,
        ca_bundle=scoped.get("ca_bundle") or None,
    )


# --- the entry point -------------------------------------------------------------------


async def resolve_config(
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    credentials: Credentials | CredentialProvider | None = None,
    use_fips: bool | None = None,
    use_dualstack: bool | None = None,
    allow_http: bool = False,
    retry_mode: str | None = None,
    max_attempts: int | None = None,
    verify: bool | str | os.PathLike[str] | None = None,
) -> ResolvedConfig:
    """Work out region, endpoint, retry settings, TLS trust, proxy and credential provider
    for one client, without blocking.

    Arguments given explicitly win over the environment, which wins over the shared config
    file (see the module docstring for the full order). ``profile`` selects the config-file
    profile (default: ``AWS_PROFILE``/``AWS_DEFAULT_PROFILE``, then ``default``).
    ``credentials`` may be fixed :class:`Credentials` or any :class:`CredentialProvider`;
    if omitted, botocore's credential chain runs lazily on the first request. ``use_fips``
    and ``use_dualstack`` default to ``AWS_USE_FIPS_ENDPOINT``/``AWS_USE_DUALSTACK_ENDPOINT``
    and the profile's ``use_fips_endpoint``/``use_dualstack_endpoint``; a configured
    endpoint wins over both. ``verify`` is boto3's: False, or a CA bundle path.

    Raises :class:`NoRegionError` if no region is configured anywhere,
    :class:`InvalidEndpointError` for a malformed endpoint URL, and :class:`ConfigError`
    for other problems (unknown profile, an invalid retry setting).
    """
    environ = dict(os.environ)

    chosen_region = region or _env(environ, "AWS_REGION") or _env(environ, "AWS_DEFAULT_REGION")
    if use_fips is None and _env(environ, "AWS_USE_FIPS_ENDPOINT") is not None:
        use_fips = _bool_value(environ["AWS_USE_FIPS_ENDPOINT"])
    if use_dualstack is None and _env(environ, "AWS_USE_DUALSTACK_ENDPOINT") is not None:
        use_dualstack = _bool_value(environ["AWS_USE_DUALSTACK_ENDPOINT"])
    mode_setting: str | None = retry_mode or _env(environ, "AWS_RETRY_MODE")
    attempts_setting: int | str | None = max_attempts
    if attempts_setting is None:
        attempts_setting = _env(environ, "AWS_MAX_ATTEMPTS")
    bundle: str | None = None
    if verify is None or verify is True:
        # botocore: an explicit verify=True means the default trust store, not the config.
        bundle = None if verify is True else _env(environ, "AWS_CA_BUNDLE")
    elif verify is not False:
        bundle = os.fspath(verify)

    # The config file matters unless everything it could say is settled already (an
    # endpoint from the environment can still be switched off by the config file), or there
    # is no file to say it and no profile named (reading one costs botocore's session module,
    # a tenth of a second of a worker thread's time at connect).
    settings: _FileSettings | None = None
    if (
        chosen_region is None
        or endpoint_url is None
        or mode_setting is None
        or attempts_setting is None
        or (verify is None and bundle is None)
    ) and (profile is not None or _shared_files_may_say(environ)):
        settings = await asyncio.to_thread(_read_shared_config, profile)
        if chosen_region is None:
            chosen_region = settings.region
        if use_fips is None:
            use_fips = settings.use_fips
        if use_dualstack is None:
            use_dualstack = settings.use_dualstack
        mode_setting = mode_setting or settings.retry_mode
        if attempts_setting is None:
            attempts_setting = settings.max_attempts
        if verify is None and bundle is None:
            bundle = settings.ca_bundle
    if verify is None and bundle is None:
        bundle = _env(environ, "REQUESTS_CA_BUNDLE")
    if chosen_region is None:
        where = f"profile {settings.profile!r}" if settings and settings.profile else "profile"
        raise NoRegionError(
            "No AWS region: pass region=..., set AWS_REGION or AWS_DEFAULT_REGION, or set "
            f"'region' for the {where} in the shared config file."
        )
    validate_region(chosen_region)
    # botocore's _normalize_fips_region: "fips-us-gov-west-1" and "us-east-1-fips" are the
    # region without "fips" plus FIPS (endpoint ecs-fips.<region>, signed for <region>).
    plain_region = chosen_region.replace("fips-", "").replace("-fips", "")
    if plain_region != chosen_region:
        validate_region(plain_region)
        chosen_region, use_fips = plain_region, True
    fips = bool(use_fips)
    dualstack = bool(use_dualstack)

    source = "argument"
    chosen_endpoint = endpoint_url
    if chosen_endpoint is None:
        ignore_env = _env(environ, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        ignore = (
            _bool_value(ignore_env)
            if ignore_env is not None
            else bool(settings and settings.ignore_configured_endpoints)
        )
        if not ignore:
            for candidate, where in (
                (_env(environ, _SERVICE_ENDPOINT_ENV), f"env:{_SERVICE_ENDPOINT_ENV}"),
                (_env(environ, "AWS_ENDPOINT_URL"), "env:AWS_ENDPOINT_URL"),
                (settings and settings.services_endpoint, "config:services"),
                (settings and settings.profile_endpoint, "config:profile"),
            ):
                if candidate:
                    chosen_endpoint, source = candidate, where
                    break

    if chosen_endpoint is None:
        chosen_endpoint = await resolve_rules_endpoint(
            chosen_region, use_fips=fips, use_dualstack=dualstack
        )
        source = "rules"
    # else: botocore passes UseFIPS/UseDualStack to the rule set only without a configured
    # endpoint, so the endpoint wins (a VPC endpoint in GovCloud, with FIPS set globally).
    normalised, host = validate_endpoint_url(chosen_endpoint)
    hostname = urlsplit(normalised).hostname or ""
    if normalised.startswith("http:") and not allow_http and not _is_loopback(hostname):
        _log.warning(
            "endpoint http://%s (from %s) is plain http: signed requests and session tokens "
            "travel unencrypted (pass allow_http=True to say that is intended)",
            hostname,
            source,
        )

    provider: CredentialProvider
    if credentials is None:
        provider = BotocoreCredentialProvider(
            profile=profile,
            region=chosen_region,
            botocore_session=None if settings is None else settings.session,
        )
    elif isinstance(credentials, Credentials):
        provider = StaticCredentials(credentials)
    else:
        provider = credentials

    return ResolvedConfig(
        region=chosen_region,
        endpoint_url=normalised,
        host=host,
        credential_provider=provider,
        use_fips=fips,
        use_dualstack=dualstack,
        profile=profile if settings is None else settings.profile,
        endpoint_source=source,
        path=urlsplit(normalised).path + "/",
        request_url=normalised + "/",
        retry_mode=_retry_mode(mode_setting),
        max_attempts=_max_attempts(attempts_setting),
        verify=False if verify is False else (bundle or True),
        proxy=_proxy_for(normalised),
    )


def _retry_mode(value: str | None) -> RetryMode:
    mode = (value or "standard").strip().lower()
    if mode in ("standard", "legacy"):
        # botocore's pre-2020 "legacy" mode has no quota and retries fewer error codes;
        # standard retries everything legacy does, so a "legacy" setting gets standard.
        return "standard"
    if mode == "adaptive":
        return "adaptive"
    raise ConfigError(f"Invalid retry mode {value!r}: expected 'standard', 'adaptive' or 'legacy'.")


def _max_attempts(value: int | str | None) -> int:
    if value is None:
        return _DEFAULT_MAX_ATTEMPTS
    try:
        attempts = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"Invalid max_attempts {value!r}: expected an integer.") from None
    if attempts < 1:
        raise ConfigError(f"Invalid max_attempts {value!r}: must be at least 1.")
    return attempts


async def ssl_setting(verify: bool | str) -> ssl.SSLContext | bool:
    """What aiohttp's ``ssl=`` takes for a resolved ``verify``: True (the default trust
    store), False (no verification), or a context trusting the CA bundle file. Loading the
    bundle is file I/O, so it runs in a worker thread."""
    if isinstance(verify, bool):
        return verify
    try:
        return await asyncio.to_thread(ssl.create_default_context, cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"Could not load the CA bundle {verify!r}: {reason}") from None
