"""LocalECS: the in-memory ECS model (``_state``) served over AWS JSON 1.1 on loopback.

Every request goes through :meth:`LocalECS._handle`, the single place where a request is
counted, delayed, authenticated, dispatched and its result or error mapped to the wire. Fault
injection (``_faults``) is one step in it, in front of the dispatch, and costs one attribute
test per request when no faults are configured.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Literal, ParamSpec, cast

from aiohttp import web

from . import _faults
from ._auth import SigV4Verifier
from ._encoding import JSON, encode
from ._errors import ErrorAnswer
from ._exec import DATA_CHANNEL_PATH, ExecAgent, ExecRecord, ExecScript
from ._exec_kms import KMS_TARGET
from ._faults import FaultInjector, Faults
from ._quota import AccountQuotas
from ._state import EcsState
from ._task_agent import TaskAgent
from ._thread import LocalECSThread
from ._wire import CONTENT_TYPE, TARGET_PREFIX, error_response, json_response

if TYPE_CHECKING:
    from aioecs import ECSClient

__all__ = ["CONTENT_TYPE", "TARGET_PREFIX", "Endpoint", "LocalECS"]

DEFAULT_CREDENTIALS = {"AKIDLOCALECS": "local-ecs-secret"}

_P = ParamSpec("_P")


@dataclass(frozen=True)
class Endpoint:
    """Where a LocalECS listens and what to sign with: all a client needs, in any language."""

    url: str
    region: str
    access_key_id: str
    secret_access_key: str

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client("ecs", ...)`` / botocore's ``create_client``."""
        return {
            "endpoint_url": self.url,
            "region_name": self.region,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
        }

    def env(self) -> dict[str, str]:
        """Environment variables that point AWS SDKs and the AWS CLI at this endpoint.

        ``AWS_ENDPOINT_URL_ECS`` is the SDKs' service-specific endpoint variable (boto3, the
        CLI v2, the Go/Java/JS v3 SDKs); static credentials and the region complete it. For
        subprocesses: ``subprocess.run(..., env={**os.environ, **endpoint.env()})``.
        """
        return {
            "AWS_ENDPOINT_URL_ECS": self.url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def to_json(self) -> str:
        """One line: ``{"endpoint_url", "region", "access_key_id", "secret_access_key"}``."""
        return json.dumps(
            {
                "endpoint_url": self.url,
                "region": self.region,
                "access_key_id": self.access_key_id,
                "secret_access_key": self.secret_access_key,
            }
        )


class _InThread(Generic[_P]):
    """``LocalECS.in_thread(...)``: takes exactly ``LocalECS()``'s arguments, type-checked.

    A descriptor rather than a classmethod so the parameter list is ``__init__``'s own (via
    ParamSpec) instead of a copy that would drift whenever an option is added.
    """

    def __init__(self, init: Callable[Concatenate[Any, _P], None]) -> None:
        """``init`` is only there for its signature: mypy infers ``_P`` from it."""

    def __get__(self, obj: object, owner: type[LocalECS]) -> Callable[_P, LocalECSThread[LocalECS]]:
        def in_thread(*args: _P.args, **kwargs: _P.kwargs) -> LocalECSThread[LocalECS]:
            """A LocalECS (same arguments as ``LocalECS()``) to serve from a background thread:
            ``with LocalECS.in_thread(latency_ms=20) as local: ...``."""
            # The class's constructor has exactly __init__'s parameters.
            return LocalECSThread(cast(Callable[_P, LocalECS], owner)(*args, **kwargs))

        return in_thread


class LocalECS:
    """An in-memory Amazon ECS task API on ``http://127.0.0.1:<free port>``, for tests and demos.

    Speaks the real wire protocol (AWS JSON 1.1, SigV4, ECS error shapes), so any ECS client -
    botocore, ours - can be pointed at :attr:`endpoint_url` with :attr:`credentials`::

        async with LocalECS() as local:
            arns = local.seed_tasks(2500, cluster="prod", family="web")
            ecs = boto3.client("ecs", **local.endpoint.client_kwargs())  # or an ECSClient

    Operations: CreateCluster, ListClusters, DescribeClusters, DeleteCluster,
    RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions, ListTaskDefinitionFamilies,
    RegisterContainerInstance, RunTask, StartTask, StopTask, ListTasks, DescribeTasks,
    CreateService, UpdateService, DescribeServices, ListServices, DeleteService,
    ListServiceDeployments, DescribeServiceDeployments (deployments that complete, fail or are
    rolled back by the circuit breaker; see docs/testing.md), and ExecuteCommand with a
    scripted data channel (:meth:`script_exec`), UpdateTaskProtection and GetTaskProtection.
    Anything else answers ``UnknownOperationException``, naming what it supports.
    :meth:`task_environment` makes it the ECS agent of one of its tasks as well.

    How tasks end is up to their task definition or RunTask's container overrides: container
    environment variables ``AIOECS_EXIT_CODE``, ``AIOECS_RUN_SECONDS`` and ``AIOECS_FAIL``
    (``image_pull``, ``resource_initialization``, ``out_of_memory``) make them exit with a
    code, after a time, or fail as ECS tasks do (see docs/testing.md).

    Args:
        region, account_id: used in every ARN and in the SigV4 credential scope.
        credentials: access key id -> secret the emulator accepts; the first pair is what
            :attr:`credentials` hands to clients.
        verify_signatures: check SigV4 on every request (on by default, so a client's signing
            bugs fail tests); turn off to take its cost out of benchmarks.
        latency_ms: delay before answering each request, like the round trip to a nearby
            region. A plain attribute: it may be changed while the server runs.
        pending_seconds: how long a new task stays PENDING before RUNNING.
        stop_seconds: how long a StopTask'ed task takes to reach lastStatus STOPPED.
        run_seconds: if set, RUNNING tasks exit by themselves after this long (batch jobs).
        missing_seconds: for this long after RunTask or StartTask started a task,
            DescribeTasks answers it ``MISSING``, as a real account's eventual consistency does.
        clock: epoch-seconds clock for task timestamps and lifecycle; pass a fake one to drive
            time-based transitions deterministically. SigV4 skew checks use real time.
        seed: makes generated ids (and so ARNs) reproducible.
        host, port: where to listen; port 0 picks a free port.
        faults: seeded fault injection (throttling, 5xx, dropped and truncated responses,
            latency spikes, a token-bucket rate limit); see :class:`Faults`. Also an attribute:
            assign a new :class:`Faults` (or None) while the server runs.
        throttling: ``"aws"`` enforces ECS's request quotas: one token bucket per throttling
            category (ListTasks and DescribeTasks share "cluster resource read": burst 100,
            20 per second), full at the start; a request finding its bucket empty is answered
            ``ThrottlingException`` and counted in ``fault_counts["quota"]``. None (default):
            no quotas. Also an attribute: assigning refills every bucket.
        throttling_scale: multiplies every burst and rate: 0.25 is an account whose other
            readers spend three quarters of each bucket, 4 a raised limit.

    :attr:`state` is the in-memory model itself (``EcsState``), for tests that need more control
    than the methods below, e.g. changing ``state.pending_seconds`` between phases.

    Synchronous code (boto3, ``unittest``) runs it on a thread of its own::

        with LocalECS.in_thread(latency_ms=20) as local:
            ecs = boto3.client("ecs", **local.endpoint.client_kwargs())

    The control methods below (``seed_tasks`` etc.) take a lock the request path also takes, so
    they are safe to call from another thread while requests are in flight; touching
    :attr:`state` directly is not.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        credentials: Mapping[str, str] | None = None,
        verify_signatures: bool = True,
        latency_ms: float = 0.0,
        pending_seconds: float = 0.0,
        stop_seconds: float = 0.0,
        run_seconds: float | None = None,
        missing_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        throttling: Literal["aws"] | None = None,
        throttling_scale: float = 1.0,
    ) -> None:
        creds = dict(credentials if credentials is not None else DEFAULT_CREDENTIALS)
        if not creds:
            raise ValueError("credentials must hold at least one access key id -> secret")
        self.region = region
        self.account_id = account_id
        self.verify_signatures = verify_signatures
        self.latency_ms = latency_ms
        self.request_count: Counter[str] = Counter()
        """Requests received per operation name (``"ListTasks"``), rejected ones included."""
        self.processed_count: Counter[str] = Counter()
        """Requests the model executed, per operation: those that got past fault injection, the
        signature check and JSON decoding, including ones the operation answered with an ECS
        error and ones whose answer a fault then lost (``reset_after``, ``truncated``)."""
        self.fault_counts: Counter[str] = Counter()
        """Faults injected so far, by :class:`Faults` field name (``"reset_after"``), plus
        ``"rate_limit"`` for requests the token bucket throttled."""
        self.state = EcsState(
            region=region,
            account_id=account_id,
            clock=clock,
            seed=seed,
            pending_seconds=pending_seconds,
            stop_seconds=stop_seconds,
            run_seconds=run_seconds,
            missing_seconds=missing_seconds,
        )
        self._verifier = SigV4Verifier(creds, region=region)
        self._host = host
        self._port = port
        self._runner: web.ServerRunner | None = None
        self._endpoint: str | None = None
        # Guards the model: the request path (on the server's loop) and the control methods
        # (possibly on another thread, see in_thread) take it.
        self._lock = threading.Lock()
        self._injector: FaultInjector | None = None
        self.faults = faults
        self.throttling_scale = throttling_scale
        self._quotas: AccountQuotas | None = None
        self.throttling = throttling
        self._exec = ExecAgent(region)
        self._agent = TaskAgent(self.state, self._lock, self.allow_key)

    # LocalECS.in_thread(<LocalECS() arguments>) -> LocalECSThread, for synchronous code.
    in_thread = _InThread(__init__)

    @property
    def faults(self) -> Faults | None:
        """The fault injection in force (None: off). Assigning restarts its seeded sequence."""
        return self._injector.faults if self._injector is not None else None

    @faults.setter
    def faults(self, faults: Faults | None) -> None:
        self._injector = FaultInjector(faults, self.fault_counts) if faults is not None else None

    @property
    def throttling(self) -> Literal["aws"] | None:
        """``"aws"`` while ECS's request quotas are enforced. Assigning refills the buckets."""
        return "aws" if self._quotas is not None else None

    @throttling.setter
    def throttling(self, throttling: Literal["aws"] | None) -> None:
        if throttling not in ("aws", None):
            raise ValueError(f"throttling: 'aws' or None, not {throttling!r}")
        self._quotas = AccountQuotas(self.throttling_scale) if throttling else None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> LocalECS:
        """Start listening; :attr:`endpoint_url` is valid afterwards."""
        if self._runner is not None:
            return self
        server = web.Server(self._handle, access_log=None)
        # Short shutdown: close() should not wait a minute on a client's idle keep-alives.
        runner = web.ServerRunner(server, shutdown_timeout=1.0)
        await runner.setup()
        # A deep accept backlog: fan-out benchmarks open thousands of connections at once, and
        # an overflowing backlog turns into one-second SYN retransmits on the client side.
        site = web.TCPSite(runner, self._host, self._port, backlog=4096)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        host, port = runner.addresses[0][:2]
        self._endpoint = f"http://{host}:{port}"
        self._runner = runner
        return self

    async def close(self) -> None:
        """Stop listening and close open connections."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await self._exec.close()
            await runner.cleanup()

    async def __aenter__(self) -> LocalECS:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``; only valid once started."""
        if self._endpoint is None:
            raise RuntimeError("LocalECS is not started; use 'async with' or 'await start()'")
        return self._endpoint

    @property
    def credentials(self) -> tuple[str, str]:
        """``(access_key_id, secret_access_key)`` that clients should sign with."""
        return next(iter(self._verifier.credentials.items()))

    @property
    def endpoint(self) -> Endpoint:
        """URL, region and credentials together; only valid once started."""
        return Endpoint(self.endpoint_url, self.region, *self.credentials)

    def client(self, **overrides: Any) -> ECSClient:
        """An `ECSClient` for this emulator: its endpoint, region and key pair.

        `overrides` are `ECSClient` arguments and win over those, e.g.
        `local.client(max_attempts=1)` or `local.client(credentials=...)` to sign with
        another key. Use it as `async with local.client() as ecs:`.
        """
        from aioecs import Credentials, ECSClient  # the emulator itself never needs the client

        key, secret = self.credentials
        settings: dict[str, Any] = {
            "region": self.region,
            "endpoint_url": self.endpoint_url,
            "credentials": Credentials(access_key_id=key, secret_access_key=secret),
        }
        return ECSClient(**(settings | overrides))

    # -- test and benchmark controls (no HTTP involved) -----------------------------------------

    def allow_key(self, access_key_id: str, secret_access_key: str) -> None:
        """Accept signatures by another key from now on (e.g. freshly issued credentials)."""
        with self._lock:
            self._verifier.credentials[access_key_id] = secret_access_key

    def revoke_key(self, access_key_id: str) -> None:
        """Reject the key from now on, as AWS rejects credentials past their expiry."""
        with self._lock:
            self._verifier.credentials.pop(access_key_id, None)

    def seed_tasks(
        self,
        count: int = 1,
        *,
        cluster: str = "default",
        family: str = "web",
        launch_type: str = "EC2",
        desired_status: str = "RUNNING",
        last_status: str | None = None,
        started_by: str | None = None,
        service_name: str | None = None,
        group: str | None = None,
        tags: Mapping[str, str] | None = None,
        image: str = "public.ecr.aws/docker/library/nginx:latest",
    ) -> list[str]:
        """Create ``count`` tasks directly in the model and return their ARNs, in list order.

        Creates the cluster, a task definition for ``family`` and (for EC2) container instances
        as needed. Tasks are RUNNING (``desired_status="STOPPED"``: exited with code 0; or
        ``last_status="PENDING"``: they start after ``pending_seconds``). ``service_name`` makes
        the tasks belong to that service (group ``service:<name>``, an ``ecs-svc/...`` startedBy,
        and the name becomes valid for ListTasks' ``serviceName``). No HTTP involved: 10,000
        tasks take a fraction of a second.
        """
        with self._lock:
            self.state.advance()
            return self.state.seed_tasks(
                count,
                cluster=cluster,
                family=family,
                launch_type=launch_type,
                desired_status=desired_status,
                last_status=last_status,
                started_by=started_by,
                service_name=service_name,
                group=group,
                tags=tags,
                image=image,
            )

    def set_task_status(
        self,
        task_arn: str,
        status: str,
        *,
        exit_code: int | Mapping[str, int] | None = None,
        reason: str | None = None,
    ) -> None:
        """Force a task to lastStatus ``"RUNNING"`` or ``"STOPPED"`` now.

        STOPPED on a task nobody asked to stop means its essential container exited (stopCode
        ``EssentialContainerExited``); on a task being stopped it completes the stop.
        ``exit_code`` is every container's exit code, or a mapping from container name to exit
        code (``{"app": 1, "sidecar": 143}``); containers it leaves out exit as their
        ``AIOECS_EXIT_CODE`` says, else 0 when essential and 143 when not (143 on a stop).
        Time-driven transitions scheduled for the task are cancelled.
        """
        with self._lock:
            self.state.advance()
            self.state.force_status(self._task(task_arn), status, exit_code, reason)

    def stop_task(self, task_arn: str, reason: str | None = None) -> None:
        """What a StopTask call does (desiredStatus STOPPED now, lastStatus after
        ``stop_seconds``), without a request: for "someone else stopped it" scenarios."""
        state = self.state
        with self._lock:
            state.advance()
            state.request_stop(self._task(task_arn), reason, state.now_ms())
            state.advance()

    def describe_task(self, task_arn: str) -> JSON:
        """A task as DescribeTasks (with ``include=["TAGS"]``) would show it now."""
        with self._lock:
            self.state.advance()
            return copy.deepcopy(self._task(task_arn).wire(True))

    def task_environment(self, task_arn: str, *, container: str | None = None) -> dict[str, str]:
        """The environment a container of the task (the first one, or `container`) would see,
        served by this LocalECS: task metadata v4, the agent's scale-in protection endpoint
        (the same state as UpdateTaskProtection and GetTaskProtection), task role credentials
        (a fresh key pair this LocalECS accepts), region and ECS endpoint. Apply it to a
        subprocess (`env={**os.environ, **env}`) or with monkeypatch; only valid once started.
        """
        url = self.endpoint_url
        return self._agent.environment(url, self.region, task_arn, container)

    def task_count(self, cluster: str | None = None, *, started_by: str | None = None) -> int:
        """How many tasks exist (in ``cluster``, a name; with ``started_by``), stopped included.

        The ground truth for "did retries duplicate anything?": after a StartTask/RunTask that
        met a lost response, the emulator holds exactly the tasks that were really started.
        """
        with self._lock:
            return sum(
                1
                for task in self.state.tasks.values()
                if (cluster is None or task.cluster.name == cluster)
                and (started_by is None or task.started_by == started_by)
            )

    def script_exec(
        self,
        command: str | re.Pattern[str],
        *,
        output: str = "",
        exit_code: int = 0,
        **channel: Any,
    ) -> None:
        """What ExecuteCommand runs of ``command`` (a string, or a pattern the whole command
        must match) prints and exits with; nothing runs on the host. Later scripts win;
        an unscripted command prints ``/bin/sh: 1: <name>: not found`` and exits 127.

        ``channel`` shapes the data channel (see ``ExecScript``): ``no_shell`` (an image
        without ``/bin/sh``), ``frame_size``, ``reorder``, ``duplicate``, ``drop_every=n``
        (every n-th frame lost, then resent), ``resend=False`` (lost for good), ``corrupt``
        (payloads that fail their SHA-256 digest),
        ``close_early`` (channel_closed before the output is acknowledged),
        ``refuse_token``, ``never_close``, ``handshake`` (the session-type handshake) and
        ``kms`` (a KMS-encrypted session; LocalECS answers KMS GenerateDataKey too, so set
        ``AWS_ENDPOINT_URL_KMS`` to :attr:`endpoint_url`).
        """
        self._exec.script(command, ExecScript(output=output, exit_code=exit_code, **channel))

    @property
    def exec_sessions(self) -> list[ExecRecord]:
        """One record per ExecuteCommand: frames sent, acknowledged and resent."""
        return self._exec.records

    def _task(self, arn: str) -> Any:
        task = self.state.tasks.get(arn)
        if task is None:
            raise KeyError(f"no such task: {arn}")
        return task

    # -- the request path ---------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path.startswith(DATA_CHANNEL_PATH):
            return await self._exec.serve(request)
        if self._agent.serves(request.path):  # see task_environment
            return await self._agent.handle(request)
        request_id = str(uuid.uuid4())
        body = await request.read()
        target = request.headers.get("X-Amz-Target", "")
        if target.startswith(KMS_TARGET):  # for KMS-encrypted exec sessions
            return self._exec.kms.answer(request, body, self._verifier.credentials, request_id)
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        self.request_count[operation or target or "<none>"] += 1
        fault, delay_ms = None, self.latency_ms
        if self._quotas is not None and not self._quotas.admit(operation):
            fault = _faults.QUOTA
            self.fault_counts[fault] += 1
        elif self._injector is not None:
            fault, spike_ms = self._injector.draw(operation)
            delay_ms += spike_ms
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if fault is None:
            return self._process(request, operation, body, request_id)
        # Injected: either the request never reaches the model (throttled, 5xx, reset), or it
        # does and its answer is then lost or cut short.
        if fault not in _faults.PROCESSED:
            return _faults.reject(fault, request, request_id)
        return await _faults.spoil(
            fault, request, self._process(request, operation, body, request_id)
        )

    def _process(
        self, request: web.BaseRequest, operation: str, body: bytes, request_id: str
    ) -> web.Response:
        """Authenticate, execute and encode one request: ECS's answer to it."""
        try:
            if self.verify_signatures:
                self._verifier.verify(request.method, request.raw_path, request.headers, body)
            with self._lock:
                return json_response(
                    encode(self._dispatch(request.method, operation, body)), request_id
                )
        except ErrorAnswer as e:
            return error_response(e, request_id)

    def _dispatch(self, method: str, operation: str, body: bytes) -> JSON:
        handler = self.state.operation(operation) if method == "POST" else None
        if operation == "ExecuteCommand" and method == "POST":
            handler = functools.partial(self._exec.execute_command, self.state, self.endpoint_url)
        if handler is None:
            supported = ", ".join(self.state.operations())
            raise ErrorAnswer(
                "UnknownOperationException",
                f"LocalECS does not emulate {operation or 'this request'!s}; "
                f"it supports: {supported}",
            )
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            raise ErrorAnswer("SerializationException", "Request body is not valid JSON.") from None
        if not isinstance(payload, dict):
            raise ErrorAnswer("SerializationException", "Request body must be a JSON object.")
        self.state.advance()
        self.processed_count[operation] += 1
        return handler(payload)
