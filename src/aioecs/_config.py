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
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import quote, urlsplit

import attrs

from aioecs._credentials import (
    BotocoreCredentialProvider,
    CredentialProvider,
    Credentials,
    StaticCredentials,
)
from aioecs._exceptions import AioECSError
from aioecs._limits import CATEGORIES, Quota, RateLimits
from aioecs._observe import Hook
from aioecs._retry import RetryMode, RetryStrategy, check_retry_settings
from aioecs._transport import Transport

if TYPE_CHECKING:
    import ssl

__all__ = [
    "ClientConfig",
    "ConfigError",
    "InvalidEndpointError",
    "NoRegionError",
    "ResolvedConfig",
    "resolve",
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
    import urllib.request  # tens of ms: only when connecting

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


class _FileSettings(NamedTuple):
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


# --- what the client was given ------------------------------------------------------------


def checked_credentials(
    credentials: Credentials | CredentialProvider | Mapping[str, str] | None,
) -> Credentials | CredentialProvider | None:
    """The `credentials` argument, checked now rather than at the first call.

    A mapping with the `Credentials` keys is accepted. Anything else with a `get` method
    (a dict among them) would pass the `CredentialProvider` protocol check, so the check is
    that `get` is a coroutine function.
    """
    import inspect

    if credentials is None or isinstance(credentials, Credentials):
        return credentials
    if isinstance(credentials, Mapping):
        allowed = {"access_key_id", "secret_access_key", "session_token"}
        unknown = sorted(set(credentials) - allowed)
        missing = sorted({"access_key_id", "secret_access_key"} - set(credentials))
        if unknown or missing:
            raise TypeError(
                "credentials as a mapping takes access_key_id, secret_access_key and "
                "optionally session_token"
                + (f"; unknown: {', '.join(map(str, unknown))}" if unknown else "")
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
        return Credentials(
            access_key_id=credentials["access_key_id"],
            secret_access_key=credentials["secret_access_key"],
            session_token=credentials.get("session_token"),
        )
    if not inspect.iscoroutinefunction(getattr(credentials, "get", None)):
        raise TypeError(
            "credentials must be aioecs.Credentials, a mapping with access_key_id and "
            "secret_access_key, or a CredentialProvider (an object with `async def get()`), "
            f"not {type(credentials).__name__}"
        )
    return credentials


def checked_rate_limits(
    given: Mapping[str, tuple[float, float]] | Literal[False] | None,
) -> RateLimits | None:
    """The quota overrides by category (None: pacing off), checked before anything is sent."""
    if given is False:
        return None
    overrides = {}
    for category, quota in (given or {}).items():
        if category not in CATEGORIES:
            known = ", ".join(sorted(CATEGORIES))
            raise ValueError(f"rate_limits: unknown category {category!r}; known: {known}")
        burst, rate = quota
        if burst < 1 or rate <= 0:
            raise ValueError(f"rate_limits[{category!r}]: need burst >= 1 and rate > 0")
        overrides[category] = Quota(float(burst), float(rate))
    return RateLimits(overrides)


def _is_transport(config: object, attribute: object, transport: Transport | None) -> None:
    if transport is not None and not isinstance(transport, Transport):
        raise TypeError(f"transport must implement aioecs.Transport, not {type(transport)}")


def _hooks(hooks: Iterable[Hook]) -> tuple[Hook, ...]:
    # A function rather than `tuple`: attrs reads a converter's signature when the class is
    # made, and the builtin's costs 3 ms of `import aioecs`.
    return tuple(hooks)


def _are_hooks(config: object, attribute: object, hooks: tuple[object, ...]) -> None:
    for hook in hooks:
        if not isinstance(hook, Hook):
            raise TypeError(f"a hook needs on_attempt and on_call methods: {hook!r}")


@attrs.frozen(kw_only=True)
class ClientConfig:
    """Everything `ECSClient(...)` was given, checked when the client is made: one field per
    argument (docs/configuration.md says what each does). None leaves a setting to the
    environment and the profile, read when the client connects (`resolve`)."""

    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    credentials: Credentials | CredentialProvider | None = attrs.field(
        default=None, converter=checked_credentials, repr=False
    )
    use_fips: bool | None = None
    use_dualstack: bool | None = None
    allow_http: bool = False
    retry_mode: RetryMode | None = None
    max_attempts: int | None = None
    verify: bool | str | os.PathLike[str] | None = None
    ca_bundle: str | os.PathLike[str] | None = None
    max_connections: int = 64
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    timeout: float | None = None
    total_timeout: float | None = None
    rate_limits: RateLimits | None = attrs.field(default=None, converter=checked_rate_limits)
    """The quota overrides by category; None once converted means pacing is off."""
    retry_strategy: RetryStrategy | None = None
    transport: Transport | None = attrs.field(default=None, validator=_is_transport)
    hooks: tuple[Hook, ...] = attrs.field(default=(), converter=_hooks, validator=_are_hooks)

    def __attrs_post_init__(self) -> None:
        if self.ca_bundle is not None:
            verify = self.verify
            if verify is False or (verify not in (None, True) and verify != self.ca_bundle):
                raise ValueError("pass verify=False or ca_bundle=..., not both")
            object.__setattr__(self, "verify", self.ca_bundle)
        strategy = self.retry_strategy
        if strategy is not None and not isinstance(strategy, RetryStrategy):
            raise TypeError(f"retry_strategy must be an aioecs.RetryStrategy, not {strategy!r}")
        if self.retry_mode is not None or self.max_attempts is not None:
            attempts = 1 if self.max_attempts is None else self.max_attempts
            check_retry_settings(self.retry_mode or "standard", attempts)
            if strategy is not None and strategy.given(self.retry_mode, self.max_attempts):
                raise ValueError(
                    "pass retry_mode and max_attempts to ECSClient or to its RetryStrategy, "
                    "not both"
                )


class _Layered(NamedTuple):
    """The settings the environment and then the profile may fill in, when not given."""

    region: str | None
    use_fips: bool | None
    use_dualstack: bool | None
    retry_mode: str | None
    max_attempts: int | str | None
    bundle: str | None

    def settled(self, endpoint_given: bool, verify: object) -> bool:
        """Whether the shared files could add nothing (an endpoint from the environment can
        still be switched off by the config file, so only an argument settles it)."""
        return None not in (self.region, self.retry_mode, self.max_attempts) and (
            endpoint_given and (verify is not None or self.bundle is not None)
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
    retry_mode: RetryMode | None = None,
    max_attempts: int | None = None,
    verify: bool | str | os.PathLike[str] | None = None,
) -> ResolvedConfig:
    """Work out region, endpoint, retry settings, TLS trust, proxy and credential provider
    for one client, without blocking: `resolve` for these arguments alone.

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
    return await resolve(
        ClientConfig(
            region=region,
            endpoint_url=endpoint_url,
            profile=profile,
            credentials=credentials,
            use_fips=use_fips,
            use_dualstack=use_dualstack,
            allow_http=allow_http,
            retry_mode=retry_mode,
            max_attempts=max_attempts,
            verify=verify,
        )
    )


async def resolve(config: ClientConfig) -> ResolvedConfig:
    """A client's `ClientConfig` completed from the environment and the profile."""
    environ = dict(os.environ)
    layered = _from_environment(config, environ)
    files: _FileSettings | None = None
    # Reading the files costs botocore's session module, a tenth of a second of a worker
    # thread's time at connect: only when they exist (or a profile is named) and matter.
    if not layered.settled(config.endpoint_url is not None, config.verify) and (
        config.profile is not None or _shared_files_may_say(environ)
    ):
        files = await asyncio.to_thread(_read_shared_config, config.profile)
        layered = _from_profile(layered, files, config.verify)
    if config.verify is None and layered.bundle is None:
        layered = layered._replace(bundle=_env(environ, "REQUESTS_CA_BUNDLE"))
    region, fips = _region(layered, files)
    dualstack = bool(layered.use_dualstack)
    endpoint, source = config.endpoint_url, "argument"
    if endpoint is None:
        endpoint, source = _configured_endpoint(environ, files)
    if endpoint is None:
        endpoint = await resolve_rules_endpoint(region, use_fips=fips, use_dualstack=dualstack)
        source = "rules"
    # else: botocore passes UseFIPS/UseDualStack to the rule set only without a configured
    # endpoint, so the endpoint wins (a VPC endpoint in GovCloud, with FIPS set globally).
    normalised, host = validate_endpoint_url(endpoint)
    _warn_if_plain_http(normalised, config.allow_http, source)
    return ResolvedConfig(
        region=region,
        endpoint_url=normalised,
        host=host,
        credential_provider=_credential_provider(config, region, files),
        use_fips=fips,
        use_dualstack=dualstack,
        profile=config.profile if files is None else files.profile,
        endpoint_source=source,
        path=urlsplit(normalised).path + "/",
        request_url=normalised + "/",
        retry_mode=_retry_mode(layered.retry_mode),
        max_attempts=_max_attempts(layered.max_attempts),
        verify=False if config.verify is False else (layered.bundle or True),
        proxy=_proxy_for(normalised),
    )


def _from_environment(config: ClientConfig, environ: Mapping[str, str]) -> _Layered:
    """The arguments, and the environment for what they leave unset."""
    use_fips, use_dualstack = config.use_fips, config.use_dualstack
    if use_fips is None and _env(environ, "AWS_USE_FIPS_ENDPOINT") is not None:
        use_fips = _bool_value(environ["AWS_USE_FIPS_ENDPOINT"])
    if use_dualstack is None and _env(environ, "AWS_USE_DUALSTACK_ENDPOINT") is not None:
        use_dualstack = _bool_value(environ["AWS_USE_DUALSTACK_ENDPOINT"])
    verify, bundle = config.verify, None
    if verify is None:
        bundle = _env(environ, "AWS_CA_BUNDLE")
    elif verify is not True and verify is not False:
        # botocore: an explicit verify=True means the default trust store, not the config.
        bundle = os.fspath(verify)
    attempts = config.max_attempts
    return _Layered(
        region=config.region or _env(environ, "AWS_REGION") or _env(environ, "AWS_DEFAULT_REGION"),
        use_fips=use_fips,
        use_dualstack=use_dualstack,
        retry_mode=config.retry_mode or _env(environ, "AWS_RETRY_MODE"),
        max_attempts=attempts if attempts is not None else _env(environ, "AWS_MAX_ATTEMPTS"),
        bundle=bundle,
    )


def _from_profile(layered: _Layered, files: _FileSettings, verify: object) -> _Layered:
    """The profile's settings, for what the arguments and the environment left unset."""
    return _Layered(
        region=layered.region or files.region,
        use_fips=files.use_fips if layered.use_fips is None else layered.use_fips,
        use_dualstack=files.use_dualstack
        if layered.use_dualstack is None
        else layered.use_dualstack,
        retry_mode=layered.retry_mode or files.retry_mode,
        max_attempts=files.max_attempts if layered.max_attempts is None else layered.max_attempts,
        bundle=files.ca_bundle if verify is None and layered.bundle is None else layered.bundle,
    )


def _region(layered: _Layered, files: _FileSettings | None) -> tuple[str, bool]:
    """The region to sign for, and whether FIPS is on (a FIPS pseudo-region turns it on)."""
    region = layered.region
    if region is None:
        where = f"profile {files.profile!r}" if files and files.profile else "profile"
        raise NoRegionError(
            "No AWS region: pass region=..., set AWS_REGION or AWS_DEFAULT_REGION, or set "
            f"'region' for the {where} in the shared config file."
        )
    validate_region(region)
    # botocore's _normalize_fips_region: "fips-us-gov-west-1" and "us-east-1-fips" are the
    # region without "fips" plus FIPS (endpoint ecs-fips.<region>, signed for <region>).
    plain = region.replace("fips-", "").replace("-fips", "")
    if plain != region:
        return validate_region(plain), True
    return region, bool(layered.use_fips)


def _configured_endpoint(
    environ: Mapping[str, str], files: _FileSettings | None
) -> tuple[str | None, str]:
    """A configured endpoint and where it came from, unless configured ones are ignored."""
    ignore_env = _env(environ, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
    if ignore_env is not None:
        ignore = _bool_value(ignore_env)
    else:
        ignore = bool(files and files.ignore_configured_endpoints)
    if not ignore:
        for candidate, where in (
            (_env(environ, _SERVICE_ENDPOINT_ENV), f"env:{_SERVICE_ENDPOINT_ENV}"),
            (_env(environ, "AWS_ENDPOINT_URL"), "env:AWS_ENDPOINT_URL"),
            (files and files.services_endpoint, "config:services"),
            (files and files.profile_endpoint, "config:profile"),
        ):
            if candidate:
                return candidate, where
    return None, "rules"


def _warn_if_plain_http(endpoint: str, allow_http: bool, source: str) -> None:
    hostname = urlsplit(endpoint).hostname or ""
    if endpoint.startswith("http:") and not allow_http and not _is_loopback(hostname):
        _log.warning(
            "endpoint http://%s (from %s) is plain http: signed requests and session tokens "
            "travel unencrypted (pass allow_http=True to say that is intended)",
            hostname,
            source,
        )


def _credential_provider(
    config: ClientConfig, region: str, files: _FileSettings | None
) -> CredentialProvider:
    credentials = config.credentials
    if credentials is None:
        return BotocoreCredentialProvider(
            profile=config.profile,
            region=region,
            botocore_session=None if files is None else files.session,
        )
    if isinstance(credentials, Credentials):
        return StaticCredentials(credentials)
    return credentials


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
    import ssl  # only for a CA bundle: aiohttp imports it when connecting anyway

    try:
        return await asyncio.to_thread(ssl.create_default_context, cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"Could not load the CA bundle {verify!r}: {reason}") from None
