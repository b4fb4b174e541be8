"""Reliability figures: what aioecs and its peers do against a misbehaving ECS (LocalECS faults).

    python benchmarks/reliability.py [--tasks 5000] [--fault-rate 0.10] [--seed 7]

Counts, not timings: one run, four scenarios, a table each (the scenarios of
tests/test_reliability.py and tests/test_validation.py, with the peers alongside):

1. Fan-out under faults: every task of a cluster of ``--tasks`` tasks while ``--fault-rate`` of
   the requests meet a fault (split over the kinds as in ``FAULT_SPLIT``); aioecs ``iter_tasks``
   and aiobotocore (paginator + one DescribeTasks per page, as in fanout.py), both in
   ``standard`` retry mode with ``max_attempts=8``. Was every task yielded exactly once?
2. StartTask when answers are lost after the call took effect (``reset_after``) and calls are
   throttled: 50 calls, one task each. Is any call ever executed twice? aioecs, aiobotocore and
   boto3, ``standard`` mode, ``max_attempts=5``; the three clients run at the same time, each
   against its own server (the runs are mostly backoff sleeps).
3. Throttling: a fan-out against ECS-like per-operation token buckets (12 requests/s, burst 1),
   16 DescribeTasks in flight, ``max_attempts=10``: requests sent and throttled, standard vs
   adaptive retry mode, aioecs and aiobotocore.
4. Validation: the invalid requests of tests/test_validation.py (hypothesis, derandomized):
   how many reached the server.

Every scenario and client gets a fresh LocalECS in a process of its own (``--serve``): the
rate limit of scenario 3 is real time, and a server sharing the client's event loop (or GIL)
would answer late whenever the client decodes, lowering the request rate it sees. Fault draws
are seeded and made in the order requests arrive, so a client meets the same fault sequence on
every run as far as its request order is the same; backoff jitter is not seeded, so wall times
(and scenario 3, which depends on timing) vary a little between runs. Clients run in this
process (wall times exclude client creation) and signatures are verified on every request,
retries included. Takes about 2.5 minutes, most of it retry backoff.

Exits with status 1 if aioecs breaks one of its guarantees (a task lost or repeated, a StartTask
executed twice, an invalid request sent); the peers' figures are reported, not judged.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from _harness import LineServer, child_env, table

if TYPE_CHECKING:
    from aioecs import ECSClient

REGION = "us-east-1"
CLUSTER = "prod"
ROOT = Path(__file__).resolve().parent.parent
RetryMode = Literal["standard", "adaptive"]
MODES: tuple[RetryMode, ...] = ("standard", "adaptive")

# How --fault-rate is shared among the fault kinds (the split of test_reliability.py at 10%):
# throttling, 5xx with a JSON body, resets before and after the request took effect, a body
# cut in half, and a load balancer's HTML 502.
FAULT_SPLIT = {
    "throttle": 0.20,
    "server_error": 0.15,
    "unavailable": 0.15,
    "reset_before": 0.10,
    "reset_after": 0.15,
    "truncated": 0.15,
    "html_502": 0.10,
}
FAULT_LABELS = {"server_error": "500", "unavailable": "503"}
FANOUT_ATTEMPTS = 8
START_CALLS = 50
START_ATTEMPTS = 5
START_FAULTS = "reset_after=0.3,throttle=0.2,operations=StartTask"
THROTTLED_TASKS = 1500
THROTTLED_ATTEMPTS = 10
THROTTLED_CONCURRENCY = 16
RATE_LIMIT = "rate_limit=12:1"  # 12 requests/s per operation, burst 1
INVALID_PER_KIND = 25


# -- LocalECS in a process of its own ---------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """What the server holds before the client starts, and what it gets wrong."""

    seed: int
    tasks: int = 0  # RUNNING tasks seeded in CLUSTER
    instances: int = 0  # container instances in CLUSTER, plus task definition "job"
    faults: str | None = None  # Faults.parse syntax


@dataclass(frozen=True)
class Stats:
    """The server's counters: requests received, requests executed, faults injected."""

    requests: Counter[str]
    processed: Counter[str]
    faults: Counter[str]


class Server:
    """``with Server(setup) as server:``: a LocalECS in a child process, queried over stdin.

    The child prints one line when it listens (endpoint, credentials, seeded task ARNs,
    container instance ARNs), then answers one JSON line per command: ``stats`` and
    ``task_counts``. End of input shuts it down.
    """

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self._server = LineServer([__file__, "--serve", json.dumps(asdict(setup))])
        self.url = self.access_key_id = self.secret_access_key = ""
        self.seeded: list[str] = []
        self.instances: list[str] = []

    def __enter__(self) -> Server:
        ready = json.loads(self._server.start())
        self.url = ready["url"]
        self.access_key_id, self.secret_access_key = ready["credentials"]
        self.seeded, self.instances = ready["seeded"], ready["instances"]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()

    def stats(self) -> Stats:
        reply = self._ask({"command": "stats"})
        return Stats(*(Counter(reply[k]) for k in ("requests", "processed", "faults")))

    def task_counts(self, started_by: Sequence[str]) -> list[int]:
        """Tasks in CLUSTER per ``started_by`` value: what the calls really started."""
        counts: list[int] = self._ask({"command": "task_counts", "started_by": list(started_by)})
        return counts

    def _ask(self, command: dict[str, Any]) -> Any:
        return json.loads(self._server.ask(json.dumps(command)))

    def botocore_kwargs(self) -> dict[str, str]:
        return {
            "region_name": REGION,
            "endpoint_url": self.url,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
        }


async def serve(setup: Setup) -> None:
    """The child: build the setup, serve, answer commands until stdin closes."""
    from aioecs.testing import Faults, LocalECS

    local = LocalECS(seed=setup.seed)
    seeded = local.seed_tasks(setup.tasks, cluster=CLUSTER) if setup.tasks else []
    instances: list[str] = []
    if setup.instances:
        state = local.state  # no request is in flight yet: the model's handlers directly
        state.create_cluster({"clusterName": CLUSTER})
        container = {"name": "job", "image": "busybox", "memory": 64}
        state.register_task_definition({"family": "job", "containerDefinitions": [container]})
        for _ in range(setup.instances):
            out = state.register_container_instance({"cluster": CLUSTER})
            instances.append(out["containerInstance"]["containerInstanceArn"])
    local.faults = Faults.parse(setup.faults) if setup.faults else None
    async with local:
        ready = {
            "url": local.endpoint_url,
            "credentials": local.credentials,
            "seeded": seeded,
            "instances": instances,
        }
        print(json.dumps(ready), flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            reply: Any
            if command["command"] == "stats":
                reply = {
                    "requests": local.request_count,
                    "processed": local.processed_count,
                    "faults": local.fault_counts,
                }
            else:
                reply = [local.task_count(CLUSTER, started_by=s) for s in command["started_by"]]
            print(json.dumps(reply), flush=True)


# -- the clients --------------------------------------------------------------------------------


def aioecs_client(server: Server, **options: Any) -> ECSClient:
    from aioecs import Credentials, ECSClient

    credentials = Credentials(
        access_key_id=server.access_key_id, secret_access_key=server.secret_access_key
    )
    return ECSClient(region=REGION, endpoint_url=server.url, credentials=credentials, **options)


def botocore_config(mode: RetryMode, max_attempts: int, pool: int = 10) -> Any:
    """An ``AioConfig`` (also a valid botocore ``Config``) with the given retries."""
    from aiobotocore.config import AioConfig

    retries = {"mode": mode, "max_attempts": max_attempts}
    return AioConfig(retries=retries, max_pool_connections=pool)


def failed(errors: Iterable[BaseException]) -> str:
    """``"TransportError(ConnectionLost) x2, ..."``, or ``"-"`` for none."""
    kinds = Counter(_kind(e) for e in errors)
    return ", ".join(f"{k} x{n}" if n > 1 else k for k, n in kinds.most_common()) or "-"


def _kind(error: BaseException) -> str:
    code = getattr(error, "code", None)  # aioecs' ECSError
    response = getattr(error, "response", None)  # botocore's ClientError
    if code is None and isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
    return f"{type(error).__name__}({code})" if code else type(error).__name__


@dataclass
class FanOut:
    """One client's fan-out: what it yielded and what went wrong, plus the server's view."""

    client: str
    arns: list[str] = field(default_factory=list)
    failures: int = 0  # DescribeTasks failures (MISSING, NOT_RETURNED)
    errors: list[BaseException] = field(default_factory=list)
    wall_s: float = 0.0
    stats: Stats | None = None


async def fan_out_aioecs(
    server: Server, mode: RetryMode, max_attempts: int, concurrency: int
) -> FanOut:
    result = FanOut(f"aioecs {mode}")
    async with aioecs_client(server, retry_mode=mode, max_attempts=max_attempts) as ecs:
        started = time.perf_counter()
        stream = ecs.iter_tasks(cluster=CLUSTER, concurrency=concurrency)
        try:
            async for task in stream:
                assert task.task_arn is not None
                result.arns.append(task.task_arn)
        except Exception as exc:
            result.errors.append(exc)
        result.wall_s = time.perf_counter() - started
    result.failures = len(stream.failures)
    return result


async def fan_out_aiobotocore(
    server: Server, mode: RetryMode, max_attempts: int, concurrency: int
) -> FanOut:
    """fanout.py's aiobotocore client, keeping what it got when something raises."""
    from aiobotocore.session import get_session

    result = FanOut(f"aiobotocore {mode}")
    slots = asyncio.Semaphore(concurrency)
    config = botocore_config(mode, max_attempts, pool=concurrency + 2)
    client = get_session().create_client("ecs", config=config, **server.botocore_kwargs())
    async with client as ecs:

        async def describe(page: list[str]) -> None:
            async with slots:
                reply = await ecs.describe_tasks(cluster=CLUSTER, tasks=page)
            result.failures += len(reply["failures"])
            result.arns.extend(task["taskArn"] for task in reply["tasks"])

        started = time.perf_counter()
        describes = []
        try:
            async for page in ecs.get_paginator("list_tasks").paginate(cluster=CLUSTER):
                if page["taskArns"]:
                    describes.append(asyncio.ensure_future(describe(page["taskArns"])))
        except Exception as exc:  # the listing stopped: keep what was described
            result.errors.append(exc)
        for outcome in await asyncio.gather(*describes, return_exceptions=True):
            if isinstance(outcome, BaseException):
                result.errors.append(outcome)
        result.wall_s = time.perf_counter() - started
    return result


FanOutClient = Callable[[Server, RetryMode, int, int], Coroutine[Any, Any, FanOut]]


def run_fan_out(
    setup: Setup, fetch: FanOutClient, mode: RetryMode, max_attempts: int, concurrency: int
) -> FanOut:
    with Server(setup) as server:
        result: FanOut = asyncio.run(fetch(server, mode, max_attempts, concurrency))
        result.stats = server.stats()
    return result


# -- 1. fan-out under faults --------------------------------------------------------------------


def fan_out_under_faults(args: argparse.Namespace) -> list[str]:
    rates = {kind: share * args.fault_rate for kind, share in FAULT_SPLIT.items()}
    spec = ",".join([f"seed={args.seed}", *(f"{k}={p:g}" for k, p in rates.items() if p)])
    setup = Setup(seed=args.seed, tasks=args.tasks, faults=spec)
    with Server(setup) as server:  # only for the seeded ARNs: every server seeds the same
        expected = set(server.seeded)
    runs = [
        run_fan_out(setup, fetch, "standard", FANOUT_ATTEMPTS, 8)
        for fetch in (fan_out_aioecs, fan_out_aiobotocore)
    ]

    split = ", ".join(f"{_label(k)} {p:g}" for k, p in rates.items())
    print(f"\n1. Fan-out of {args.tasks:,} tasks, {args.fault_rate:.0%} of requests faulted")
    print(textwrap.fill(f"Faults(seed={args.seed}): {split}", 96, initial_indent="   ",
                        subsequent_indent="     "))  # fmt: skip
    print(f"   standard retries, max_attempts={FANOUT_ATTEMPTS}, 8 DescribeTasks in flight\n")
    kinds = list(FAULT_SPLIT)
    rows: list[list[object]] = []
    for run in runs:
        assert run.stats is not None
        faults, requests = run.stats.faults, run.stats.requests
        sent = f"{requests['ListTasks']}+{requests['DescribeTasks']}"
        rows.append([run.client, *(faults[k] for k in kinds), faults.total(), sent])
    headers = ["faults injected", *map(_label, kinds), "total", "requests List+Describe"]
    print(table(headers, rows) + "\n")
    rows = []
    for run in runs:
        distinct = set(run.arns)
        yielded = len(run.arns)
        rows.append(
            [run.client, len(expected), yielded, len(distinct), yielded - len(distinct),
             len(expected - distinct), run.failures, failed(run.errors), f"{run.wall_s:.2f}"]
        )  # fmt: skip
    headers = ["tasks", "expected", "yielded", "distinct", "duplicated", "missing", "failures"]
    print(table([*headers, "raised", "wall s"], rows))

    ours = runs[0]
    if ours.errors or ours.failures or sorted(ours.arns) != sorted(expected):
        return ["fan-out under faults: aioecs did not yield every task exactly once"]
    return []


# -- 2. StartTask when answers are lost ----------------------------------------------------------


async def start_aioecs(server: Server, started_by: Sequence[str]) -> list[BaseException | None]:
    from aioecs.errors import ECSError

    outcomes: list[BaseException | None] = []
    async with aioecs_client(server, max_attempts=START_ATTEMPTS) as ecs:
        for tag in started_by:
            try:
                await ecs.start_task(
                    cluster=CLUSTER, task_definition="job",
                    container_instances=server.instances, started_by=tag,
                )  # fmt: skip
                outcomes.append(None)
            except ECSError as exc:
                outcomes.append(exc)
    return outcomes


async def start_aiobotocore(
    server: Server, started_by: Sequence[str]
) -> list[BaseException | None]:
    from aiobotocore.session import get_session
    from botocore.exceptions import BotoCoreError, ClientError

    outcomes: list[BaseException | None] = []
    config = botocore_config("standard", START_ATTEMPTS)
    client = get_session().create_client("ecs", config=config, **server.botocore_kwargs())
    async with client as ecs:
        for tag in started_by:
            try:
                await ecs.start_task(
                    cluster=CLUSTER, taskDefinition="job",
                    containerInstances=server.instances, startedBy=tag,
                )  # fmt: skip
                outcomes.append(None)
            except (BotoCoreError, ClientError) as exc:
                outcomes.append(exc)
    return outcomes


def start_boto3(server: Server, started_by: Sequence[str]) -> list[BaseException | None]:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    outcomes: list[BaseException | None] = []
    config = Config(retries={"mode": "standard", "max_attempts": START_ATTEMPTS})
    ecs = boto3.session.Session().client("ecs", config=config, **server.botocore_kwargs())
    for tag in started_by:  # blocking: run on a thread of its own
        try:
            ecs.start_task(
                cluster=CLUSTER, taskDefinition="job",
                containerInstances=server.instances, startedBy=tag,
            )  # fmt: skip
            outcomes.append(None)
        except (BotoCoreError, ClientError) as exc:
            outcomes.append(exc)
    ecs.close()
    return outcomes


def start_task_with_lost_answers(args: argparse.Namespace) -> list[str]:
    """Each client against a server of its own, the three at once: they only share this
    process's time, and what a server counts depends only on its client's calls, which each
    client makes one after another (the runs are backoff sleeps, ~90 s for botocore's)."""
    setup = Setup(seed=args.seed, instances=1, faults=f"seed={args.seed},{START_FAULTS}")
    started_by = [f"call-{i}" for i in range(START_CALLS)]
    with Server(setup) as ours, Server(setup) as aio, Server(setup) as sync:

        async def all_clients() -> list[list[BaseException | None]]:
            return list(
                await asyncio.gather(
                    start_aioecs(ours, started_by),
                    start_aiobotocore(aio, started_by),
                    asyncio.to_thread(start_boto3, sync, started_by),
                )
            )

        servers = {"aioecs": ours, "aiobotocore": aio, "boto3": sync}
        outcomes = dict(zip(servers, asyncio.run(all_clients()), strict=True))
        counts = {name: server.task_counts(started_by) for name, server in servers.items()}
        stats = {name: server.stats() for name, server in servers.items()}

    print(f"\n2. StartTask x {START_CALLS}, one container instance each, a unique startedBy each")
    print(f"   Faults(seed={args.seed}, reset_after=0.3, throttle=0.2, operations={{'StartTask'}})")
    print(f"   standard retries, max_attempts={START_ATTEMPTS}, calls one after another\n")
    rows: list[list[object]] = []
    duplicates: dict[str, int] = {}
    for name, results in outcomes.items():
        errors = [e for e in results if e is not None]
        started = counts[name]
        lost = sum(1 for e, n in zip(results, started, strict=True) if e is not None and n)
        duplicates[name] = sum(max(0, n - 1) for n in started)
        per_call = Counter(min(n, 2) for n in started)
        requests, processed = stats[name].requests, stats[name].processed
        faults = stats[name].faults
        rows.append(
            [name, START_CALLS - len(errors), len(errors), lost,
             f"{per_call[0]}/{per_call[1]}/{per_call[2]}", duplicates[name],
             requests["StartTask"], processed["StartTask"],
             f"{faults['reset_after']}/{faults['throttle']}", failed(errors)]
        )  # fmt: skip
    headers = ["client", "ok", "failed", "failed, started", "calls 0/1/2+ tasks", "extra tasks"]
    headers += ["requests", "executed", "reset_after/throttle", "raised"]
    print(table(headers, rows))
    print("   tasks per call: the server's task count by startedBy; executed: requests that")
    print("   reached the model (a reset_after is executed, then its answer is lost)")
    if duplicates["aioecs"]:
        return [f"StartTask: aioecs executed {duplicates['aioecs']} call(s) more than once"]
    return []


# -- 3. throttling: standard vs adaptive --------------------------------------------------------


def throttling(args: argparse.Namespace) -> list[str]:
    setup = Setup(seed=args.seed, tasks=THROTTLED_TASKS, faults=RATE_LIMIT)
    runs = [
        run_fan_out(setup, fetch, mode, THROTTLED_ATTEMPTS, THROTTLED_CONCURRENCY)
        for fetch in (fan_out_aioecs, fan_out_aiobotocore)
        for mode in MODES
    ]
    print(f"\n3. Fan-out of {THROTTLED_TASKS:,} tasks against ECS-like throttling")
    print("   Faults(rate_limit=(12.0, 1.0)): a token bucket per operation, 12 requests/s, burst 1")
    in_flight = f"{THROTTLED_CONCURRENCY} DescribeTasks in flight"
    print(f"   standard and adaptive retries, max_attempts={THROTTLED_ATTEMPTS}, {in_flight}\n")
    rows: list[list[object]] = []
    for run in runs:
        assert run.stats is not None
        sent, throttled = run.stats.requests.total(), run.stats.faults["rate_limit"]
        rows.append(
            [run.client, len(set(run.arns)), sent, throttled, f"{throttled / sent:.0%}",
             f"{run.wall_s:.2f}", failed(run.errors)]
        )  # fmt: skip
    headers = ["client", "tasks", "requests", "throttled", "share", "wall s", "raised"]
    print(table(headers, rows))
    problems = []
    for run in runs[:2]:
        if run.errors or len(set(run.arns)) != THROTTLED_TASKS:
            problems.append(f"throttling: {run.client} did not yield every task")
    return problems


# -- 4. validation: invalid requests are never sent ---------------------------------------------


class Refusal(NamedTuple):
    """What became of one invalid request."""

    kind: str  # the generator's kind ("tags: over 50")
    operation: str
    outcome: str  # "refused" (ValidationError), "sent", or the exception's type
    reported: bool  # the ValidationError names every path the case is wrong at


async def send_invalid(server: Server) -> tuple[list[Refusal], int, int]:
    """Each generated invalid request through aioecs, then the requests the server received,
    before and after one valid call."""
    from aioecs.errors import ValidationError

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # `tests` is a package of the repository, not installed
    # Imported by name, so that type-checking this script does not type-check the tests too.
    tests: Any = importlib.import_module("tests.test_validation")

    refusals: list[Refusal] = []
    async with aioecs_client(server) as ecs:
        for case in tests.generate_invalid(per_kind=INVALID_PER_KIND):
            operation = tests.OPERATIONS[case.method]
            try:
                await getattr(ecs, case.method)(**case.params)
                refusals.append(Refusal(case.kind, operation, "sent", False))
            except ValidationError as exc:
                reported = tests._reported(case, exc)
                refusals.append(Refusal(case.kind, operation, "refused", reported))
            except Exception as exc:
                refusals.append(Refusal(case.kind, operation, type(exc).__name__, False))
        before = server.stats().requests.total()
        await ecs.list_clusters()  # the counter does count what arrives
        after = server.stats().requests.total()
    return refusals, before, after


def validation(args: argparse.Namespace) -> list[str]:
    with Server(Setup(seed=args.seed)) as server:
        refusals, received, after_valid = asyncio.run(send_invalid(server))
    kinds = len({r.kind for r in refusals})
    print("\n4. Invalid requests sent through aioecs to LocalECS")
    print(f"   tests/test_validation.py's generator: {kinds} kinds x {INVALID_PER_KIND} examples,")
    print("   hypothesis derandomized\n")
    rows: list[list[object]] = []
    for operation in [*sorted({r.operation for r in refusals}), "total"]:
        mine = [r for r in refusals if operation in (r.operation, "total")]
        refused = sum(r.outcome == "refused" for r in mine)
        rows.append([operation, len(mine), refused, sum(r.reported for r in mine)])
    headers = ["operation", "generated", "refused (ValidationError)", "every problem reported"]
    print(table(headers, rows))
    other = Counter(r.outcome for r in refusals if r.outcome != "refused")
    print(f"   requests received by the server: {received}; not refused: {dict(other) or 0}")
    print(f"   after one valid ListClusters: {after_valid} (the counter counts)")
    if received or other:
        return [f"validation: {received} invalid request(s) reached the server, {dict(other)}"]
    return []


# -- main ----------------------------------------------------------------------------------------


def _label(kind: str) -> str:
    return FAULT_LABELS.get(kind, kind)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=5000, help="tasks in scenario 1")
    parser.add_argument("--fault-rate", type=float, default=0.10, help="scenario 1")
    parser.add_argument("--seed", type=int, default=7, help="fault draws and ARNs")
    parser.add_argument("--serve", metavar="SETUP", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(Setup(**json.loads(args.serve))))
        return

    # The clients run here: like the server processes, they must see no AWS profile,
    # config file or environment retry settings, only what they are given.
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update({k: v for k, v in child_env().items() if k.startswith("AWS_")})

    problems = fan_out_under_faults(args)
    problems += start_task_with_lost_answers(args)
    problems += throttling(args)
    problems += validation(args)
    if problems:
        raise SystemExit("\n".join(["", *problems]))


if __name__ == "__main__":
    main()
