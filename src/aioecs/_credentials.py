"""AWS credentials: the value type, the providers that hand them out, and refresh.

Where credentials come from is botocore's business: its credential chain already knows
environment variables, the shared credentials/config files, profiles, ``credential_process``,
SSO, assume-role, web identity, the ECS/EKS container endpoint and IMDS. Re-implementing
that chain would be a long-lived source of subtle differences from every other AWS tool, so
:class:`BotocoreCredentialProvider` runs botocore's own chain. Its providers do blocking file
and network I/O, so every call into botocore happens in a worker thread
(:func:`asyncio.to_thread`); the event loop never waits on it.

Temporary credentials are refreshed by :class:`RefreshableCredentialProvider`, an asyncio port
of the design of botocore's ``RefreshableCredentials`` (and aiobotocore's
``AioRefreshableCredentials``):

* an *advisory* window (default 15 minutes before expiry): one caller refreshes, everyone
  else keeps using the still-valid current credentials; if that refresh fails the current
  credentials are kept and a later call tries again;
* a *mandatory* window (default 10 minutes before expiry): every caller waits for the
  refresh, and if it fails they all get the error.

At most one refresh is in flight at a time, whatever the number of concurrent callers, and
every caller receives a frozen :class:`Credentials` snapshot, never a half-updated
key/secret/token triple. botocore is imported lazily (inside the worker thread) because
importing it takes a noticeable fraction of a second, and ``import aioecs`` should not.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any, NamedTuple, Protocol, runtime_checkable

import attrs

from ._exceptions import AioECSError

__all__ = [
    "DEFAULT_ADVISORY_REFRESH_SECONDS",
    "DEFAULT_MANDATORY_REFRESH_SECONDS",
    "BotocoreCredentialProvider",
    "CredentialProvider",
    "Credentials",
    "CredentialsError",
    "NoCredentialsError",
    "RefreshableCredentialProvider",
    "StaticCredentials",
]

logger = logging.getLogger(__name__)

#: Seconds before expiry at which one caller starts refreshing (others keep the old ones).
DEFAULT_ADVISORY_REFRESH_SECONDS: float = 15 * 60
#: Seconds before expiry at which every caller waits for fresh credentials.
DEFAULT_MANDATORY_REFRESH_SECONDS: float = 10 * 60


@attrs.frozen(kw_only=True, repr=False)
class Credentials:
    """A set of AWS credentials. Its repr never shows the secret or the token."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expiry: datetime | None = None

    def __repr__(self) -> str:
        return (
            f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key=***, "
            + ("session_token=***" if self.session_token else "session_token=None")
            + f", expiry={self.expiry!r})"
        )

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never be shown of these credentials: the secret key and the token."""
        return (self.secret_access_key, self.session_token or "")


class CredentialsError(AioECSError):
    """Credentials could not be obtained or refreshed.

    The message says what went wrong and where; it never contains a secret key or a
    session token (the underlying error, if any, is chained as ``__cause__``).
    """


class NoCredentialsError(CredentialsError):
    """No credential source in the chain had any credentials to offer."""


@runtime_checkable
class CredentialProvider(Protocol):
    """Anything that can hand out currently-valid credentials, without blocking the loop.

    The client awaits :meth:`get` before signing each request, so implementations must be
    cheap when nothing needs refreshing (return a cached snapshot).
    """

    async def get(self) -> Credentials:
        """Return credentials that are valid now (refreshing them first if needed)."""
        ...


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _as_utc(value: datetime | None) -> datetime | None:
    """Make an expiry time timezone-aware (naive means UTC), so comparisons never fail."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


class StaticCredentials:
    """A provider for credentials given explicitly by the caller; nothing to refresh.

    If the credentials carry an expiry time and it has passed, :meth:`get` raises rather
    than letting a request go out signed with credentials AWS will reject anyway.
    """

    __slots__ = ("__weakref__", "_clock", "_credentials")  # weak: pacing follows a source

    def __init__(
        self, credentials: Credentials, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._credentials = attrs.evolve(credentials, expiry=_as_utc(credentials.expiry))
        self._clock = clock

    async def get(self) -> Credentials:
        """Return the credentials, or raise :class:`CredentialsError` if they have expired."""
        creds = self._credentials
        if creds.expiry is not None and creds.expiry <= self._clock():
            raise CredentialsError(
                f"The explicitly given credentials (access key {creds.access_key_id}) "
                f"expired at {creds.expiry.isoformat()}; nothing can refresh them."
            )
        return creds

    def __repr__(self) -> str:
        return f"StaticCredentials({self._credentials!r})"

    __str__ = __repr__


class RefreshableCredentialProvider:
    """Temporary credentials kept fresh by an async ``refresh`` callable.

    ``refresh`` must return a complete new :class:`Credentials` snapshot (usually with an
    ``expiry``); if it blocks, wrap it with :func:`asyncio.to_thread`, as
    :class:`BotocoreCredentialProvider` does. Refreshing follows botocore's two windows
    (see the module docstring); both are configurable so tests can work in seconds.

    Concurrency: the refresh runs as one shared task, so however many tasks call
    :meth:`get` at once, at most one refresh is in flight. Waiters are shielded from each
    other's cancellation: a cancelled caller does not cancel the refresh the others wait on.
    """

    def __init__(
        self,
        refresh: Callable[[], Awaitable[Credentials]],
        *,
        initial: Credentials | None = None,
        advisory_refresh_seconds: float = DEFAULT_ADVISORY_REFRESH_SECONDS,
        mandatory_refresh_seconds: float = DEFAULT_MANDATORY_REFRESH_SECONDS,
        clock: Callable[[], datetime] = _utcnow,
        method: str = "custom",
    ) -> None:
        _check_windows(advisory_refresh_seconds, mandatory_refresh_seconds)
        self._refresh = refresh
        self._advisory = advisory_refresh_seconds
        self._mandatory = mandatory_refresh_seconds
        self._clock = clock
        self._method = method
        self._current: Credentials | None = (
            None if initial is None else attrs.evolve(initial, expiry=_as_utc(initial.expiry))
        )
        self._inflight: asyncio.Task[Credentials] | None = None

    @property
    def method(self) -> str:
        """Where the credentials come from (botocore's method name, e.g. ``container-role``)."""
        return self._method

    def _refresh_due(self, creds: Credentials | None, window: float, now: datetime) -> bool:
        if creds is None:
            return True
        if creds.expiry is None:
            return False
        return (creds.expiry - now).total_seconds() < window

    def _running_refresh(self) -> asyncio.Task[Credentials] | None:
        return self._inflight if _live(self._inflight) else None

    async def get(self) -> Credentials:
        """Return valid credentials, refreshing first if they are near expiry.

        Outside both windows this returns the cached snapshot without awaiting anything.
        In the advisory window only the caller that starts the refresh waits for it, and a
        failure there is logged and the current credentials returned. In the mandatory
        window (or before the first fetch) every caller waits, and a failure raises
        :class:`CredentialsError`.
        """
        now = self._clock()
        current = self._current
        if not self._refresh_due(current, self._advisory, now):
            assert current is not None
            return current

        mandatory = self._refresh_due(current, self._mandatory, now)
        task = self._running_refresh()
        started_here = task is None
        if task is None:
            task = asyncio.get_running_loop().create_task(self._do_refresh())
            task.add_done_callback(_consume_exception)
            self._inflight = task
        elif not mandatory:
            # Someone else is refreshing and what we hold is still good: don't wait.
            assert current is not None
            return current

        try:
            return await asyncio.shield(task)
        except CredentialsError as exc:
            now = self._clock()
            if started_here and not self._refresh_due(current, self._mandatory, now):
                assert current is not None
                logger.warning(
                    "Refreshing temporary credentials (%s) failed during the advisory "
                    "refresh period; using the current ones until the mandatory period. %s",
                    self._method,
                    exc,
                )
                return current
            raise

    async def _do_refresh(self) -> Credentials:
        try:
            new = await self._refresh()
        except CredentialsError:
            raise
        except Exception as exc:
            raise CredentialsError(
                f"Refreshing credentials ({self._method}) failed: {_describe(exc)}"
            ) from exc
        if not isinstance(new, Credentials):
            raise CredentialsError(
                f"Refreshing credentials ({self._method}) returned "
                f"{type(new).__name__}, not Credentials"
            )
        new = attrs.evolve(new, expiry=_as_utc(new.expiry))
        if new.expiry is not None and new.expiry <= self._clock():
            raise CredentialsError(
                f"Credentials ({self._method}) were refreshed, but the refreshed "
                f"credentials are already expired (expiry {new.expiry.isoformat()})."
            )
        # One reference assignment: readers see either the old snapshot or the new one.
        self._current = new
        return new

    def __repr__(self) -> str:
        current = self._current
        expiry = None if current is None else current.expiry
        return f"RefreshableCredentialProvider(method={self._method!r}, expiry={expiry!r})"

    __str__ = __repr__


def _check_windows(advisory: float, mandatory: float) -> None:
    if mandatory < 0:
        raise ValueError("mandatory_refresh_seconds must be >= 0")
    if advisory < mandatory:
        raise ValueError("advisory_refresh_seconds must be >= mandatory_refresh_seconds")


def _live(task: asyncio.Task[Any] | None) -> bool:
    """Whether `task` still runs on this event loop: a finished task, or one left behind by
    another (possibly closed) loop, is not something anyone can wait on here."""
    return task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop()


def _consume_exception(task: asyncio.Task[Any]) -> None:
    # If every waiter was cancelled, nobody retrieves the refresh task's exception and
    # asyncio would log "Task exception was never retrieved" (with the traceback) at GC.
    if not task.cancelled():
        task.exception()


def _describe(exc: BaseException) -> str:
    """A secret-free description of an error raised while resolving credentials.

    botocore's own exceptions are rendered from fixed templates (provider name, profile
    name, missing variable names, HTTP status) and are safe and useful to show; anything
    else is reduced to its type name, because its message could echo arbitrary data.
    """
    # Look botocore up rather than import it: if it was never imported, the error cannot
    # be one of its exceptions, and importing it here would block the event loop.
    exceptions = sys.modules.get("botocore.exceptions")
    base = getattr(exceptions, "BotoCoreError", None)
    if isinstance(base, type) and isinstance(exc, base):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


class _Loaded(NamedTuple):
    """What botocore's chain produced, converted in the worker thread."""

    method: str
    static: Credentials | None
    initial: Credentials | None
    refresh_using: Callable[[], Mapping[str, Any]] | None


def _credentials_from_metadata(metadata: Mapping[str, Any]) -> Credentials:
    """Convert botocore's refresh metadata (access_key, secret_key, token, expiry_time)."""
    from botocore.utils import parse_timestamp

    # botocore's IMDS fetcher, for one, signals failure by returning an empty dict.
    missing = [key for key in ("access_key", "secret_key") if not (metadata or {}).get(key)]
    if missing:
        raise CredentialsError(
            f"Credential refresh failed: the response did not contain {', '.join(missing)}."
        )
    expiry_raw = metadata.get("expiry_time")
    expiry: datetime | None
    if expiry_raw is None:
        expiry = None
    elif isinstance(expiry_raw, datetime):
        expiry = expiry_raw
    else:
        expiry = parse_timestamp(expiry_raw)
    return Credentials(
        access_key_id=str(metadata["access_key"]),
        secret_access_key=str(metadata["secret_key"]),
        session_token=metadata.get("token") or None,
        expiry=_as_utc(expiry),
    )


def _load_botocore_credentials(
    profile: str | None, region: str | None, session: Any | None
) -> _Loaded:
    """Run botocore's credential chain. Blocking: call only from a worker thread."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        if session is None:
            session = botocore.session.Session(profile=profile)
        if region:
            # Providers that call AWS themselves (assume-role, SSO) use the session's
            # region, as they would under a boto3 client created for this region.
            session.set_config_variable("region", region)
        found = session.get_credentials()
    except BotoCoreError as exc:
        raise CredentialsError(f"Could not load AWS credentials: {_describe(exc)}") from exc
    if found is None:
        raise NoCredentialsError(
            "Unable to locate AWS credentials: none were given explicitly, and botocore's "
            "chain (environment, shared credentials and config files, profile "
            f"{profile or 'default'!r}, SSO, web identity, container endpoint, instance "
            "metadata) found none."
        )
    method = str(getattr(found, "method", None) or "botocore")
    refresh_using = getattr(found, "_refresh_using", None)
    if not callable(refresh_using):
        frozen = found.get_frozen_credentials()
        return _Loaded(
            method=method,
            static=Credentials(
                access_key_id=frozen.access_key,
                secret_access_key=frozen.secret_key,
                session_token=frozen.token or None,
            ),
            initial=None,
            refresh_using=None,
        )
    # Refreshable (container, IMDS, assume-role, SSO, credential_process with expiry...).
    # Read what botocore already fetched without calling get_frozen_credentials(): that
    # would apply botocore's own 15-minute windows and could refresh again right away.
    initial: Credentials | None = None
    frozen = getattr(found, "_frozen_credentials", None)
    if frozen is not None and frozen.access_key and frozen.secret_key:
        expiry = getattr(found, "_expiry_time", None)
        initial = Credentials(
            access_key_id=frozen.access_key,
            secret_access_key=frozen.secret_key,
            session_token=frozen.token or None,
            expiry=_as_utc(expiry) if isinstance(expiry, datetime) else None,
        )
    return _Loaded(method=method, static=None, initial=initial, refresh_using=refresh_using)


def _environment_credentials(environ: Mapping[str, str]) -> Credentials | None:
    """What botocore's first provider (``EnvProvider``) returns, when it needs no botocore.

    Both keys set and no ``AWS_CREDENTIAL_EXPIRATION`` make fixed credentials, and the chain
    stops there; botocore would cost 70 modules and a tenth of a second to say the same.
    Anything else (a key without its secret, an expiry to refresh by) goes to botocore, for
    its own error or refresh.
    """
    access_key = environ.get("AWS_ACCESS_KEY_ID")
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY")
    if not access_key or not secret_key or environ.get("AWS_CREDENTIAL_EXPIRATION"):
        return None
    # botocore's order: AWS_SECURITY_TOKEN, then AWS_SESSION_TOKEN.
    token = environ.get("AWS_SECURITY_TOKEN") or environ.get("AWS_SESSION_TOKEN") or None
    return Credentials(access_key_id=access_key, secret_access_key=secret_key, session_token=token)


def _call_refresh(refresh_using: Callable[[], Mapping[str, Any]]) -> Credentials:
    """Call a botocore refresh function and freeze its result. Blocking: worker thread."""
    return _credentials_from_metadata(refresh_using())


class BotocoreCredentialProvider:
    """Credentials from botocore's credential chain, resolved and refreshed off the loop.

    Nothing happens at construction; the chain runs (in a worker thread) on the first
    :meth:`get`. Concurrent first calls share one attempt. A failed attempt is not
    cached, so a later call tries again (the instance metadata service may be briefly
    unreachable at boot, for example).

    Static credentials (environment, credentials file) are then returned as they are;
    refreshable ones (container, IMDS, assume-role, SSO...) are wrapped in a
    :class:`RefreshableCredentialProvider` whose refresh calls botocore's own refresh
    function in a worker thread.
    """

    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        advisory_refresh_seconds: float = DEFAULT_ADVISORY_REFRESH_SECONDS,
        mandatory_refresh_seconds: float = DEFAULT_MANDATORY_REFRESH_SECONDS,
        clock: Callable[[], datetime] = _utcnow,
        botocore_session: Any | None = None,
    ) -> None:
        """Create the provider.

        ``profile`` selects a profile explicitly (which, as in botocore, makes the chain
        skip the ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` environment variables);
        ``None`` means ``AWS_PROFILE``/``AWS_DEFAULT_PROFILE`` or ``default``.
        ``botocore_session`` lets :func:`aioecs._config.resolve_config` reuse the session
        whose config files it already parsed; it must not be used concurrently elsewhere.
        """
        _check_windows(advisory_refresh_seconds, mandatory_refresh_seconds)
        self._profile = profile
        self._region = region
        self._advisory = advisory_refresh_seconds
        self._mandatory = mandatory_refresh_seconds
        self._clock = clock
        self._session = botocore_session
        self._delegate: CredentialProvider | None = None
        self._method: str | None = None
        self._loading: asyncio.Task[CredentialProvider] | None = None

    @property
    def method(self) -> str | None:
        """botocore's name for where the credentials were found (``None`` before loading)."""
        return self._method

    async def get(self) -> Credentials:
        """Return valid credentials, running the chain first if it has not run yet."""
        delegate = self._delegate
        if delegate is None:
            delegate = await self._load()
        return await delegate.get()

    async def _load(self) -> CredentialProvider:
        task = self._loading
        if task is None or not _live(task):
            task = asyncio.get_running_loop().create_task(self._do_load())
            task.add_done_callback(_consume_exception)
            self._loading = task
        return await asyncio.shield(task)

    async def _do_load(self) -> CredentialProvider:
        if self._delegate is not None:
            return self._delegate
        # An explicit profile makes botocore skip the environment's keys.
        found = None if self._profile is not None else _environment_credentials(os.environ)
        if found is not None:
            self._method = "env"
            self._delegate = StaticCredentials(found, clock=self._clock)
            return self._delegate
        try:
            loaded = await asyncio.to_thread(
                _load_botocore_credentials, self._profile, self._region, self._session
            )
        except CredentialsError:
            raise
        except Exception as exc:
            raise CredentialsError(f"Could not load AWS credentials: {_describe(exc)}") from exc
        delegate: CredentialProvider
        if loaded.static is not None:
            delegate = StaticCredentials(loaded.static, clock=self._clock)
        else:
            refresh_using = loaded.refresh_using
            assert refresh_using is not None

            async def refresh() -> Credentials:
                return await asyncio.to_thread(_call_refresh, refresh_using)

            delegate = RefreshableCredentialProvider(
                refresh,
                initial=loaded.initial,
                advisory_refresh_seconds=self._advisory,
                mandatory_refresh_seconds=self._mandatory,
                clock=self._clock,
                method=loaded.method,
            )
        self._method = loaded.method
        self._delegate = delegate
        return delegate

    def __repr__(self) -> str:
        return (
            f"BotocoreCredentialProvider(profile={self._profile!r}, method={self._method!r}, "
            f"delegate={self._delegate!r})"
        )

    __str__ = __repr__
