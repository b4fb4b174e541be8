"""`ECSClient`: options and lifecycle. Every call goes to its `Pipeline` (`_pipeline.py`)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from . import _retry, serde
from ._config import ClientConfig, ssl_setting
from ._credentials import Credentials
from ._exceptions import ClientClosedError
from ._fanout import TaskStream
from ._generated.operations import ECSOperations
from ._observe import Hook
from ._pipeline import Deadline, Pipeline
from ._retry import RetryMode, RetryStrategy
from ._spec import OperationSpec, ServiceSpec
from ._transport import AiohttpTransport, Transport

if TYPE_CHECKING:
    from . import models
    from ._config import ResolvedConfig
    from ._credentials import CredentialProvider
    from ._deploy import Rollout
    from ._exec import ExecResult, ExecSession
    from ._jobs import Job
    from ._watch import TaskWatch

__all__ = ["ECSClient"]

_Out = TypeVar("_Out")


class ECSClient(ECSOperations):
    """An async Amazon ECS client: one method per operation, typed models in and out.

    ```python
    async with ECSClient(region="eu-west-1") as ecs:
        page = await ecs.list_tasks(cluster="prod")
    ```

    Region, credentials and endpoint are resolved like boto3 does (arguments, then `AWS_*`
    environment variables, then the shared config and credentials files and botocore's
    credential providers), without blocking the event loop. Also usable without `async with`:
    the first call connects and `await client.close()` releases the connections.

    Requests are paced to ECS's request quotas (one token bucket per throttling category,
    account and Region, shared by every client of the same credentials and Region in the
    process; see the fan-out guide): unpaced until ECS first throttles, then as fast as the
    bucket refills. `rate_limits={"cluster_resource_read": (burst, rate)}` states a raised
    limit, `rate_limits=False` turns pacing off. Throttled read-only calls keep trying while
    ECS makes progress. `retry_strategy=aioecs.RetryStrategy(...)` decides what is retried
    and when (its jitter and clock included). `timeout` bounds each attempt; `total_timeout`,
    if given, each call, as a hard deadline (`aioecs.errors.DeadlineExceeded`). `close()`
    ends what is in flight (`aioecs.errors.ClientClosedError`).
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        credentials: Credentials | CredentialProvider | Mapping[str, str] | None = None,
        use_fips: bool | None = None,
        use_dualstack: bool | None = None,
        allow_http: bool = False,
        retry_mode: RetryMode | None = None,
        max_attempts: int | None = None,
        verify: bool | str | os.PathLike[str] | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        max_connections: int = 64,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        timeout: float | None = None,
        total_timeout: float | None = None,
        rate_limits: Mapping[str, tuple[float, float]] | Literal[False] | None = None,
        retry_strategy: RetryStrategy | None = None,
        transport: Transport | None = None,
        hooks: Sequence[Hook] = (),
    ) -> None:
        # Every argument, checked now; the environment and the profile fill in the rest when
        # the client connects. A new option is a parameter here and a field there.
        arguments = {name: value for name, value in locals().items() if name != "self"}
        self._config = ClientConfig(**arguments)
        self._ready: asyncio.Task[None] | None = None
        self._connected: Pipeline | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the pool belongs to
        self._closed = False
        self._closing = asyncio.Event()  # set by close(): wakes streams and jobs between polls

    def __repr__(self) -> str:
        if self._connected is None:
            return "<ECSClient (not connected)>"
        config = self._connected.config
        return f"<ECSClient region={config.region!r} endpoint={config.endpoint_url!r}>"

    @property
    def _pipeline(self) -> Pipeline | None:
        """The request path and its connection pool, refused to any other event loop than
        the one it was made on.

        aiohttp's own error for that ("attached to a different loop") does not say what to
        do; this check costs one C call per request.
        """
        pipeline = self._connected
        if pipeline is not None:
            loop = asyncio._get_running_loop()
            if loop is not None and loop is not self._loop:
                raise RuntimeError(_OTHER_LOOP)
        return pipeline

    @property
    def region(self) -> str | None:
        return self._connected.config.region if self._connected else None

    @property
    def endpoint_url(self) -> str | None:
        return self._connected.config.endpoint_url if self._connected else None

    async def __aenter__(self) -> ECSClient:
        await self._connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """End every call and stream in flight (`aioecs.errors.ClientClosedError`), then close
        the connection pool. Later calls fail at once with the same error. Safe to call more
        than once."""
        self._closed = True
        self._closing.set()
        if self._ready is not None and not self._ready.done():
            self._ready.cancel()
        pipeline, self._connected = self._pipeline, None
        if pipeline is not None:
            await pipeline.close()

    async def _connect(self) -> None:
        if self._closed:
            raise ClientClosedError()
        loop = asyncio.get_running_loop()
        if self._ready is None:
            # One resolution shared by every concurrent first call.
            self._loop = loop
            self._ready = asyncio.ensure_future(self._resolve())
        elif loop is not self._loop:
            raise RuntimeError(_OTHER_LOOP)
        try:
            await asyncio.shield(self._ready)
        except asyncio.CancelledError:
            if self._closed and self._ready.cancelled():  # close() won the race, not our caller
                raise ClientClosedError() from None
            raise

    async def _resolve(self) -> None:
        # Cold, these imports take over 100 ms (aiohttp alone most of it): in a worker thread,
        # the event loop keeps running meanwhile (the probe in tests/test_loop_lag.py).
        resolve, SigV4Signer = await asyncio.to_thread(_connect_modules, self._service)
        given = self._config
        config = await resolve(given)
        strategy = given.retry_strategy or RetryStrategy()
        strategy.settle(config.retry_mode, config.max_attempts)
        transport = given.transport
        if transport is None:
            # Only an https endpoint has a certificate to verify (a CA bundle is often set
            # machine-wide, and loading one costs milliseconds).
            https = config.request_url.startswith("https:")
            transport = AiohttpTransport(
                max_connections=given.max_connections,
                connect_timeout=given.connect_timeout,
                read_timeout=given.read_timeout,
                timeout=given.timeout,
                ssl=await ssl_setting(config.verify) if https else True,
                proxy=config.proxy,
            )
        self._connected = Pipeline(
            service=self._service,
            config=config,
            signer=SigV4Signer(config.region, "ecs"),
            credentials=config.credential_provider,
            retry=strategy,
            rate_limits=given.rate_limits,
            total_timeout=given.total_timeout,
            transport=transport,
            hooks=given.hooks,
        )

    def iter_tasks(
        self,
        cluster: str | None = None,
        *,
        clusters: Sequence[str] | Literal["*"] | None = None,
        family: str | None = None,
        service_name: str | None = None,
        started_by: str | None = None,
        desired_status: models.DesiredStatus | None = None,
        launch_type: models.LaunchType | None = None,
        container_instance: str | None = None,
        include: Sequence[models.TaskField] | None = None,
        concurrency: int = 8,
        deadline: float | None = None,
    ) -> TaskStream:
        """Every task matching the ListTasks filters, described and typed, as a stream.

        `cluster` names one cluster (default: the account's `default` cluster), `clusters`
        several, or `"*"` for every cluster in the region. `desired_status` defaults to
        RUNNING, as in ListTasks. `concurrency` bounds DescribeTasks calls in flight. Failures
        (tasks gone between listing and describing) are in the stream's `failures` after the
        loop. Throttling and transient faults are retried for as long as ECS makes progress;
        `deadline` (seconds) bounds the whole stream. See `TaskStream`.
        """
        from . import _task_pages

        names = _task_pages.selected_clusters(cluster, clusters)
        filters = {
            "family": family,
            "service_name": service_name,
            "started_by": started_by,
            "desired_status": desired_status,
            "launch_type": launch_type,
            "container_instance": container_instance,
        }
        return TaskStream(
            self._send_json,
            names,
            None,
            _task_pages.list_params(filters),
            list(include) if include else None,
            concurrency,
            deadline,
        )

    def watch_tasks(
        self,
        cluster: str | None = None,
        *,
        clusters: Sequence[str] | Literal["*"] | None = None,
        family: str | None = None,
        service_name: str | None = None,
        started_by: str | None = None,
        launch_type: models.LaunchType | None = None,
        container_instance: str | None = None,
        include: Sequence[models.TaskField] | None = None,
        interval: float = 30.0,
        refresh: int | None = 10,
        concurrency: int = 8,
        snapshot: dict[str, Any] | None = None,
        state_file: str | os.PathLike[str] | None = None,
        on_sweep: Callable[[TaskWatch], object] | None = None,
    ) -> TaskWatch:
        """The changes of the RUNNING tasks matching the ListTasks filters, as a stream.

        Sweeps start every `interval` seconds; each lists the ARNs and describes only what may
        have changed, and settled tasks every `refresh` sweeps (None: never). `state_file`
        resumes from that file if it exists and keeps it current as changes are handed out;
        `snapshot` resumes from `TaskWatch.snapshot()` instead. `on_sweep(watch)` is called at
        the end of each sweep. See `TaskWatch` and `TaskChange`.
        """
        from ._watch import watch

        filters = {
            "family": family,
            "service_name": service_name,
            "started_by": started_by,
            "launch_type": launch_type,
            "container_instance": container_instance,
        }
        return watch(
            self._send_json,
            cluster=cluster,
            clusters=clusters,
            filters=filters,
            include=include,
            interval=interval,
            refresh=refresh,
            concurrency=concurrency,
            snapshot=snapshot,
            state_file=state_file,
            on_sweep=on_sweep,
            pause=self._pause,
        )

    async def run_job(
        self, *, cluster: str | None = None, task_definition: str, count: int = 1, **params: Any
    ) -> Job:
        """Start `count` tasks with RunTask, 10 a call, and return the `Job` to wait on.

        `params` are any other RunTask parameters (`launch_type`, `overrides`, ...). Each call
        carries a clientToken of its own, so a retried call never starts its tasks twice.
        Placement failures are in `job.failures`. See `Job.wait` and docs/jobs.md.
        """
        from ._jobs import run_job

        return await run_job(self, cluster, task_definition, count, params, pause=self._pause)

    async def start_job(
        self,
        *,
        cluster: str | None = None,
        task_definition: str,
        container_instances: Sequence[str],
        **params: Any,
    ) -> Job:
        """Start one task on each container instance with StartTask, 10 a call; the `Job`.

        `params` are any other StartTask parameters. StartTask has no clientToken: a call
        that may have been processed is not repeated, and its error says so.
        """
        from ._jobs import start_job

        return await start_job(
            self, cluster, task_definition, container_instances, params, pause=self._pause
        )

    async def exec_command(
        self,
        *,
        cluster: str | None = None,
        task: str,
        container: str | None = None,
        command: str,
        timeout: float | None = None,
    ) -> ExecResult:
        """Run `command` in a running task's container (ECS Exec) and return its output and
        exit code, without the session-manager-plugin. See `ExecSession` and the ECS Exec
        guide: the output is terminal text, and `timeout` (seconds) bounds the whole call."""
        session = self.exec_session(
            cluster=cluster, task=task, container=container, command=command, timeout=timeout
        )
        async with session:
            return await session.result()

    def exec_session(
        self,
        *,
        cluster: str | None = None,
        task: str,
        container: str | None = None,
        command: str,
        timeout: float | None = None,
    ) -> ExecSession:
        """`command` in a running task's container, its output streamed: use it as
        `async with ecs.exec_session(...) as s: async for text in s.output`."""
        from ._exec import ExecSession

        request = {"cluster": cluster, "task": task, "container": container, "command": command}
        return ExecSession(
            self,
            request,
            config=self._resolved_config,
            timeout=timeout,
            allow_ws=self._config.allow_http,
        )

    async def deploy(self, *, service: str, cluster: str | None = None, **params: Any) -> Rollout:
        """UpdateService (`params`: any of its parameters, e.g. `task_definition=...`,
        `force_new_deployment=True`), returning the deployment it started; `await
        rollout.wait(timeout=..., interval=...)` follows it to COMPLETED, ROLLED_BACK, FAILED
        or STOPPED. See the deployments guide."""
        from ._deploy import deploy

        return await deploy(self, service=service, cluster=cluster, pause=self._pause, **params)

    async def _pause(self, seconds: float) -> None:
        """Sleep between a watch's sweeps or a job's polls, cut short by `close()`: what
        waits on this client ends with `ClientClosedError` at once, not at its next request."""
        if not self._closed:
            try:
                await asyncio.wait_for(self._closing.wait(), max(seconds, 0.0))
            except asyncio.TimeoutError:
                return
        raise ClientClosedError()

    def _resolved_config(self) -> ResolvedConfig:
        """The settings the client connected with (its CA bundle and proxy, for ECS Exec)."""
        pipeline = self._connected
        if pipeline is None:
            raise ClientClosedError()
        return pipeline.config

    async def _ready_pipeline(self) -> Pipeline:
        pipeline = self._pipeline
        if pipeline is None:
            await self._connect()
            pipeline = self._pipeline
            if pipeline is None:  # closed while connecting
                raise ClientClosedError()
        return pipeline

    async def _send_json(
        self,
        operation: str,
        params: dict[str, Any],
        counts: _retry.RequestCounts | None = None,
        deadline: Deadline | float | None = None,
    ) -> Any:
        """The fan-out's and the watch's path: ListTasks and DescribeTasks, in wire form."""
        pipeline = await self._ready_pipeline()
        return await pipeline.send_json(operation, params, counts, deadline)

    async def _call(self, spec: OperationSpec[Any, _Out], params: dict[str, Any]) -> _Out:
        """Every generated method's path."""
        pipeline = await self._ready_pipeline()
        return await pipeline.call(spec, params)


def _connect_modules(service: ServiceSpec) -> tuple[Any, Any]:
    """Import what connecting and the first call need; run in a worker thread."""
    import urllib.request  # noqa: F401  (for _config's proxy lookup)

    import aiohttp  # noqa: F401  (for AiohttpTransport)

    # What every first call loads, whichever operation it is: here, off the loop.
    from . import _validate, models  # noqa: F401
    from ._config import resolve
    from ._signing import SigV4Signer

    # And the fan-out's: ListTasks and DescribeTasks, Task with its 40 nested classes, and
    # their decoders (generated beside the classes; cattrs compiles the request encoders).
    # Safe from a thread: the worst a concurrent first use on the loop can do is compile a
    # function twice.
    fan_out: tuple[tuple[str, dict[str, Any]], ...] = (
        ("ListTasks", {"cluster": "warm-up"}),
        ("DescribeTasks", {"cluster": "warm-up", "tasks": ["warm-up"]}),
    )
    for operation, params in fan_out:
        spec = service.operations[operation]
        serde.encode(serde.build_request(spec.name, spec.input, params))
        serde.decoder(spec.output)

    return resolve, SigV4Signer


_OTHER_LOOP = (
    "this ECSClient was first used on another event loop (each asyncio.run() makes a new "
    "one); its connections belong to that loop: create one client per event loop"
)
