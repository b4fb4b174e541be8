"""LocalECS: the in-memory ECS model (``_state``) served over AWS JSON 1.1 on loopback.

Every request goes through :meth:`LocalECS._handle`, the single place where a request is
counted, delayed, authenticated, dispatched and its result or error mapped to the wire. Fault
injection (seeded throttling, 5xx, dropped connections) belongs there, in front of the dispatch.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from aiohttp import web

from ._auth import SigV4Verifier
from ._state import JSON, EcsError, EcsState, encode

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
CONTENT_TYPE = "application/x-amz-json-1.1"
DEFAULT_CREDENTIALS = {"AKIDLOCALECS": "local-ecs-secret"}


class LocalECS:
    """An in-memory Amazon ECS task API on ``http://127.0.0.1:<free port>``, for tests and demos.

    Speaks the real wire protocol (AWS JSON 1.1, SigV4, ECS error shapes), so any ECS client -
    botocore, ours - can be pointed at :attr:`endpoint_url` with :attr:`credentials`::

        async with LocalECS() as local:
            arns = local.seed_tasks(cluster="prod", count=2500, family="web")
            client = make_client(endpoint_url=local.endpoint_url, credentials=local.credentials)

    Operations: CreateCluster, ListClusters, DescribeClusters, RegisterTaskDefinition,
    RegisterContainerInstance, RunTask, StartTask, StopTask, ListTasks, DescribeTasks. Anything
    else answers ``UnknownOperationException``.

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
        clock: epoch-seconds clock for task timestamps and lifecycle; pass a fake one to drive
            time-based transitions deterministically. SigV4 skew checks use real time.
        seed: makes generated ids (and so ARNs) reproducible.
        host, port: where to listen; port 0 picks a free port.

    :attr:`state` is the in-memory model itself (``EcsState``), for tests that need more control
    than the methods below, e.g. changing ``state.pending_seconds`` between phases.
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
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
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
        self.state = EcsState(
            region=region,
            account_id=account_id,
            clock=clock,
            seed=seed,
            pending_seconds=pending_seconds,
            stop_seconds=stop_seconds,
            run_seconds=run_seconds,
        )
        self._verifier = SigV4Verifier(creds, region=region)
        self._host = host
        self._port = port
        self._runner: web.ServerRunner | None = None
        self._endpoint: str | None = None

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

    # -- test and benchmark controls (no HTTP involved) -----------------------------------------

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
        self, task_arn: str, status: str, *, exit_code: int | None = None, reason: str | None = None
    ) -> None:
        """Force a task to lastStatus ``"RUNNING"`` or ``"STOPPED"`` now.

        STOPPED on a task nobody asked to stop means its essential container exited (``exit_code``
        default 0, stopCode ``EssentialContainerExited``); on a task being stopped it completes
        the stop. Time-driven transitions scheduled for the task are cancelled.
        """
        self.state.advance()
        self.state.force_status(self._task(task_arn), status, exit_code, reason)

    def stop_task(self, task_arn: str, reason: str | None = None) -> None:
        """What a StopTask call does (desiredStatus STOPPED now, lastStatus after
        ``stop_seconds``), without a request: for "someone else stopped it" scenarios."""
        state = self.state
        state.advance()
        state.request_stop(self._task(task_arn), reason, state.now_ms())
        state.advance()

    def describe_task(self, task_arn: str) -> JSON:
        """A task as DescribeTasks (with ``include=["TAGS"]``) would show it now."""
        self.state.advance()
        return copy.deepcopy(self._task(task_arn).wire(True))

    def _task(self, arn: str) -> Any:
        task = self.state.tasks.get(arn)
        if task is None:
            raise KeyError(f"no such task: {arn}")
        return task

    # -- the request path ---------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        body = await request.read()
        target = request.headers.get("X-Amz-Target", "")
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        self.request_count[operation or target or "<none>"] += 1
        if self.latency_ms > 0:
            await asyncio.sleep(self.latency_ms / 1000)
        try:
            if self.verify_signatures:
                self._verifier.verify(request.method, request.raw_path, request.headers, body)
            result = self._dispatch(request.method, operation, body)
        except EcsError as e:
            return self._error(e, request_id)
        return web.Response(
            body=encode(result),
            headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id},
        )

    def _dispatch(self, method: str, operation: str, body: bytes) -> JSON:
        handler = self.state.operation(operation) if method == "POST" else None
        if handler is None:
            raise EcsError("UnknownOperationException", "")
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            raise EcsError("SerializationException", "Request body is not valid JSON.") from None
        if not isinstance(payload, dict):
            raise EcsError("SerializationException", "Request body must be a JSON object.")
        self.state.advance()
        return handler(payload)

    @staticmethod
    def _error(error: EcsError, request_id: str) -> web.Response:
        body: JSON = {"__type": error.code, "message": error.message}
        if not error.message:
            body = {"__type": error.code}
        return web.Response(
            status=error.status,
            body=encode(body),
            headers={
                "Content-Type": CONTENT_TYPE,
                "x-amzn-RequestId": request_id,
                "x-amzn-ErrorType": error.code,
            },
        )
