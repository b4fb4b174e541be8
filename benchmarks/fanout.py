"""Fan-out benchmark: every task of a cluster, described, with aioecs and with its peers.

    python benchmarks/fanout.py [--tasks 1000 10000] [--latency-ms 20] [--repeat 5]

Per task count N, one LocalECS process is seeded with N tasks and answers every request after
``--latency-ms``. Each client then fetches all N tasks in its own fresh interpreter, which
reports the wall and CPU time of the fetch alone (client creation excluded: see startup.py)
and its peak RSS. Every run must see exactly the N seeded task ARNs, or the benchmark fails.

Clients:

* aioecs: ``async for task in ecs.iter_tasks(cluster=...)``, typed models out;
* aiobotocore: what a careful user writes - ListTasks pages from the paginator, each page's
  DescribeTasks started as a task the moment the page arrives, bounded by a semaphore;
* boto3: the same paginator, one DescribeTasks per page, sequentially;
* aiohttp-floor: unsigned POSTs and ``json.loads`` with aiobotocore's pipelining - no
  signing, no models: about the least a Python client can spend.

The floor for wall time is (ceil(N/100) + 1) x latency: ListTasks pages form a chain (each
needs the previous token), and the last page's DescribeTasks takes one more round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import math
import sys
from collections import defaultdict
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from _harness import Meter, arn_digest, emit, median, run_child, table
from _server import BenchServer, Target

REGION = "us-east-1"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
CLIENTS = ("aioecs", "aiobotocore", "boto3", "aiohttp-floor")
PEER = "aiobotocore"
FLOOR = "aiohttp-floor"


# -- the clients (each runs in its own child process) -------------------------------------------


async def fetch_aioecs(target: Target, meter: Meter, concurrency: int) -> list[str]:
    from aioecs import Credentials, ECSClient

    credentials = Credentials(
        access_key_id=target.access_key_id, secret_access_key=target.secret_access_key
    )
    arns: list[str] = []
    async with ECSClient(region=REGION, endpoint_url=target.url, credentials=credentials) as ecs:
        with meter:
            stream = ecs.iter_tasks(cluster=target.cluster, concurrency=concurrency)
            async for task in stream:
                assert task.task_arn is not None
                arns.append(task.task_arn)
    if stream.failures:
        raise RuntimeError(f"aioecs reported failures: {stream.failures[:3]}")
    return arns


async def fetch_aiobotocore(
    target: Target, meter: Meter, concurrency: int, retry_mode: str | None = None
) -> list[str]:
    """``retry_mode``: botocore's ``standard`` or ``adaptive``; None leaves botocore's default
    (``legacy``, or whatever the environment says)."""
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    arns: list[str] = []
    slots = asyncio.Semaphore(concurrency)
    options: dict[str, Any] = {"max_pool_connections": concurrency + 2}
    if retry_mode is not None:
        options["retries"] = {"mode": retry_mode}
    client = get_session().create_client(
        "ecs",
        region_name=REGION,
        endpoint_url=target.url,
        aws_access_key_id=target.access_key_id,
        aws_secret_access_key=target.secret_access_key,
        config=AioConfig(**options),
    )
    async with client as ecs:

        async def describe(page: list[str]) -> None:
            async with slots:
                reply = await ecs.describe_tasks(cluster=target.cluster, tasks=page)
            if reply["failures"]:
                raise RuntimeError(f"DescribeTasks failures: {reply['failures'][:3]}")
            arns.extend(task["taskArn"] for task in reply["tasks"])

        with meter:
            describes = []
            async for page in ecs.get_paginator("list_tasks").paginate(cluster=target.cluster):
                if page["taskArns"]:
                    describes.append(asyncio.create_task(describe(page["taskArns"])))
            await asyncio.gather(*describes)
    return arns


def fetch_boto3(target: Target, meter: Meter, concurrency: int) -> list[str]:
    import boto3

    ecs = boto3.session.Session().client(
        "ecs",
        region_name=REGION,
        endpoint_url=target.url,
        aws_access_key_id=target.access_key_id,
        aws_secret_access_key=target.secret_access_key,
    )
    arns: list[str] = []
    with meter:
        for page in ecs.get_paginator("list_tasks").paginate(cluster=target.cluster):
            if page["taskArns"]:
                reply = ecs.describe_tasks(cluster=target.cluster, tasks=page["taskArns"])
                if reply["failures"]:
                    raise RuntimeError(f"DescribeTasks failures: {reply['failures'][:3]}")
                arns.extend(task["taskArn"] for task in reply["tasks"])
    ecs.close()
    return arns


async def fetch_aiohttp_floor(target: Target, meter: Meter, concurrency: int) -> list[str]:
    import json

    import aiohttp

    arns: list[str] = []
    slots = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency + 2)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call(operation: str, payload: dict[str, Any]) -> Any:
            headers = {
                "X-Amz-Target": TARGET_PREFIX + operation,
                "Content-Type": "application/x-amz-json-1.1",
            }
            async with session.post(target.url, data=json.dumps(payload), headers=headers) as r:
                body = await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{operation}: HTTP {r.status}: {body[:200]!r}")
            return json.loads(body)

        async def describe(page: list[str]) -> None:
            async with slots:
                reply = await call("DescribeTasks", {"cluster": target.cluster, "tasks": page})
            if reply["failures"]:
                raise RuntimeError(f"DescribeTasks failures: {reply['failures'][:3]}")
            arns.extend(task["taskArn"] for task in reply["tasks"])

        with meter:
            describes = []
            params: dict[str, Any] = {"cluster": target.cluster}
            while True:
                page = await call("ListTasks", params)
                if page["taskArns"]:
                    describes.append(asyncio.create_task(describe(page["taskArns"])))
                if not page.get("nextToken"):
                    break
                params = {**params, "nextToken": page["nextToken"]}
            await asyncio.gather(*describes)
    return arns


Fetch = Callable[[Target, Meter, int], list[str]]


def _sync(fetch: Callable[[Target, Meter, int], Coroutine[Any, Any, list[str]]]) -> Fetch:
    return lambda target, meter, concurrency: asyncio.run(fetch(target, meter, concurrency))


FETCHERS: dict[str, Fetch] = {
    "aioecs": _sync(fetch_aioecs),
    "aiobotocore": _sync(fetch_aiobotocore),
    "boto3": fetch_boto3,
    "aiohttp-floor": _sync(fetch_aiohttp_floor),
}


def child(client: str, target: Target, concurrency: int) -> None:
    meter = Meter()
    arns = FETCHERS[client](target, meter, concurrency)
    distinct = set(arns)
    emit(
        {
            **meter.result(),
            "count": len(arns),
            "distinct": len(distinct),
            "digest": arn_digest(distinct),
        }
    )


# -- the parent: run, check, summarise ----------------------------------------------------------


def run(n: int, args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Every client ``--repeat`` times against one server seeded with ``n`` tasks, clients
    interleaved so that any drift of the machine spreads over all of them."""
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with BenchServer(tasks=n, latency_ms=args.latency_ms) as server:
        assert server.target is not None
        target = server.target
        server.stats()  # reset
        for rep in range(args.repeat):
            for client in args.clients:
                label = f"{client} N={n} #{rep + 1}"
                child_args = ["--child", client, "--target", target.to_json()]
                child_args += ["--concurrency", str(args.concurrency)]
                result = run_child(Path(__file__), child_args, label=label)
                result["requests"] = server.stats()
                check(result, target, label)
                runs[client].append(result)
                print(
                    f"  {label}: {result['wall_s']:.3f} s wall, {result['cpu_s']:.3f} s CPU, "
                    f"{result['rss_peak_mib']:.0f} MiB",
                    file=sys.stderr,
                )
    return runs


def check(result: dict[str, Any], target: Target, label: str) -> None:
    """Fail loudly unless the client saw exactly the seeded tasks, each once."""
    if (result["count"], result["distinct"]) != (target.tasks, target.tasks):
        raise SystemExit(
            f"{label}: saw {result['count']} tasks ({result['distinct']} distinct), "
            f"expected {target.tasks}"
        )
    if result["digest"] != target.digest:
        raise SystemExit(f"{label}: saw {target.tasks} tasks, but not the seeded ones")


def summarise(n: int, runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    floor_s = (math.ceil(n / 100) + 1) * args.latency_ms / 1000
    med = {c: {k: median(r[k] for r in rs) for k in _METRICS} for c, rs in runs.items()}
    print(
        f"\nN = {n:,} tasks, latency {args.latency_ms:g} ms, concurrency {args.concurrency}; "
        f"floor = (ceil(N/100) + 1) x latency = {floor_s:.3f} s; medians of {args.repeat} runs"
    )
    rows = []
    for client, m in med.items():
        requests = sorted({_requests(r["requests"]) for r in runs[client]})
        rows.append(
            [
                client,
                m["wall_s"],
                f"{m['wall_s'] / floor_s:.2f}",
                m["cpu_s"],
                m["rss_peak_mib"],
                m["rss_peak_mib"] - m["rss_before_mib"],
                " / ".join(requests),
            ]
        )
    headers = ["client", "wall s", "wall/floor", "CPU s", "peak RSS MiB", "fetch +RSS MiB"]
    print(table([*headers, "requests List+Describe"], rows))
    for other in (PEER, FLOOR):
        if "aioecs" in med and other in med:
            ours, theirs = med["aioecs"], med[other]
            print(
                f"aioecs / {other}: wall {ours['wall_s'] / theirs['wall_s']:.2f}x, "
                f"CPU {ours['cpu_s'] / theirs['cpu_s']:.2f}x, "
                f"peak RSS {ours['rss_peak_mib'] / theirs['rss_peak_mib']:.2f}x"
            )


_METRICS = ("wall_s", "cpu_s", "rss_peak_mib", "rss_before_mib")


def _requests(counts: dict[str, int]) -> str:
    extra = {k: v for k, v in counts.items() if k not in ("ListTasks", "DescribeTasks")}
    text = f"{counts.get('ListTasks', 0)}+{counts.get('DescribeTasks', 0)}"
    return text + (f" {extra}" if extra else "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8, help="DescribeTasks in flight")
    parser.add_argument("--clients", nargs="+", choices=CLIENTS, default=list(CLIENTS))
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Target.from_json(args.target), args.concurrency)
        return

    if importlib.util.find_spec("orjson") is not None:
        print("orjson is installed: aioecs parses responses with it, the others with json")
    peak: dict[int, dict[str, float]] = {}
    for n in args.tasks:
        runs = run(n, args)
        summarise(n, runs, args)
        peak[n] = {c: median(r["rss_peak_mib"] for r in rs) for c, rs in runs.items()}
    if len(args.tasks) > 1:
        small, large = min(args.tasks), max(args.tasks)
        growth = ", ".join(f"{c} {peak[large][c] - peak[small][c]:+.1f} MiB" for c in args.clients)
        print(f"\npeak RSS({large:,}) - peak RSS({small:,}): {growth}")


if __name__ == "__main__":
    main()
