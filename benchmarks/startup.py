"""Start-up cost: import, create and enter a client, then its first call, in fresh interpreters.

    python benchmarks/startup.py [--repeat 7]

What a short-lived script or a Lambda cold start pays before its first ECS request. Each
sample is a new interpreter (median of ``--repeat``), timed with ``perf_counter``:

* import: ``from aioecs import ECSClient`` / ``from aiobotocore.session import get_session``;
* create: ``ECSClient(...)`` / ``get_session().create_client("ecs", ...)``;
* enter: ``async with`` (aioecs resolves region, endpoint and credentials; aiobotocore loads
  the service model and endpoint rules);
* first call: one ListTasks against a LocalECS process with no injected latency.

``asyncio`` (and this script's standard-library imports) are loaded before timing starts, as
any async program has them already. aiohttp's own import time is shown as context: both
clients pay it, aioecs in ``enter`` (it imports aiohttp lazily), aiobotocore in ``import``.

A second table is the path of a container or CI job, in other fresh interpreters: aiohttp
already imported, keys in ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` and an explicit
endpoint. Per client: the import (``perf_counter``), then the CPU (``process_time``, worker
threads included) of creating the client, entering it and its first ListTasks, and in how
many runs cattrs and botocore were loaded by then. Ratios to aiobotocore and to the targets
(import within 20 ms, client and first call within 60 ms of CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import sys
import time
from pathlib import Path
from typing import Any

from _harness import emit, median, run_child, table
from _server import BenchServer, Target

REGION = "us-east-1"
PHASES = ("import", "create", "enter")
IMPORT_TARGET_S, FIRST_CALL_TARGET_S = 0.020, 0.060


async def _aioecs(target: Target) -> dict[str, float]:
    times = {}
    started = time.perf_counter()
    from aioecs import Credentials, ECSClient

    times["import"] = time.perf_counter() - started
    started = time.perf_counter()
    credentials = Credentials(
        access_key_id=target.access_key_id, secret_access_key=target.secret_access_key
    )
    client = ECSClient(region=REGION, endpoint_url=target.url, credentials=credentials)
    times["create"] = time.perf_counter() - started
    started = time.perf_counter()
    async with client as ecs:
        times["enter"] = time.perf_counter() - started
        started = time.perf_counter()
        await ecs.list_tasks(cluster=target.cluster)
        times["first call"] = time.perf_counter() - started
    return times


async def _aiobotocore(target: Target) -> dict[str, float]:
    times = {}
    started = time.perf_counter()
    from aiobotocore.session import get_session

    times["import"] = time.perf_counter() - started
    started = time.perf_counter()
    client = get_session().create_client(
        "ecs",
        region_name=REGION,
        endpoint_url=target.url,
        aws_access_key_id=target.access_key_id,
        aws_secret_access_key=target.secret_access_key,
    )
    times["create"] = time.perf_counter() - started
    started = time.perf_counter()
    async with client as ecs:
        times["enter"] = time.perf_counter() - started
        started = time.perf_counter()
        await ecs.list_tasks(cluster=target.cluster)
        times["first call"] = time.perf_counter() - started
    return times


async def _warm_process(name: str, target: Target) -> dict[str, Any]:
    """Import with aiohttp loaded, then client + first call CPU with keys in the environment."""
    import aiohttp  # noqa: F401

    os.environ["AWS_ACCESS_KEY_ID"] = target.access_key_id
    os.environ["AWS_SECRET_ACCESS_KEY"] = target.secret_access_key
    started = time.perf_counter()
    if name == "aioecs":
        from aioecs import ECSClient
    else:
        from aiobotocore.session import get_session
    imported = time.perf_counter() - started
    started = time.process_time()
    if name == "aioecs":
        async with ECSClient(region=REGION, endpoint_url=target.url) as ecs:
            await ecs.list_tasks(cluster=target.cluster)
    else:
        async with get_session().create_client(
            "ecs", region_name=REGION, endpoint_url=target.url
        ) as ecs:
            await ecs.list_tasks(cluster=target.cluster)
    first_cpu = time.process_time() - started
    roots = {module.split(".")[0] for module in sys.modules}
    return {
        "import": imported,
        "first call cpu": first_cpu,
        "cattrs": "cattrs" in roots,
        "botocore": "botocore" in roots,
    }


def child(name: str, target: Target) -> None:
    if name.endswith(" env"):
        emit(asyncio.run(_warm_process(name.removesuffix(" env"), target)))
        return
    if name == "aiohttp":
        started = time.perf_counter()
        import aiohttp  # noqa: F401

        emit({"import": time.perf_counter() - started})
        return
    fetch = _aioecs if name == "aioecs" else _aiobotocore
    emit(asyncio.run(fetch(target)))  # timing starts inside: the loop's set-up is in neither


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Target.from_json(args.target))
        return

    # Installed by pip, a package has its bytecode compiled; a source checkout (where the
    # children may not write it: `child_env`) gets it here, or every import would compile.
    import aioecs

    compileall.compile_dir(Path(aioecs.__file__).parent, quiet=1)
    clients = ("aioecs", "aiobotocore", "aiohttp", "aioecs env", "aiobotocore env")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in clients}
    with BenchServer(tasks=100, latency_ms=0) as server:
        assert server.target is not None
        child_args = ["--target", server.target.to_json()]
        for rep in range(args.repeat):
            for name in clients:
                label = f"{name} #{rep + 1}"
                runs[name].append(
                    run_child(Path(__file__), ["--child", name, *child_args], label=label)
                )

    warm = {name.removesuffix(" env"): runs.pop(name) for name in ("aioecs env", "aiobotocore env")}
    med = {name: {k: median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    for m in med.values():
        m["import+create+enter"] = sum(m.get(p, 0.0) for p in PHASES)
    columns = [*PHASES, "import+create+enter", "first call"]
    rows = [
        [name, *(f"{m[c] * 1e3:.0f}" if c in m else "" for c in columns)] for name, m in med.items()
    ]
    print(f"Start-up, ms, medians of {args.repeat} fresh interpreters")
    print(table(["client", *columns], rows))
    ours, peer = med["aioecs"], med["aiobotocore"]
    ratios = ", ".join(f"{c} {ours[c] / peer[c]:.2f}x" for c in columns)
    print(f"aioecs / aiobotocore: {ratios}")
    print(f"(aiohttp's import alone: {med['aiohttp']['import'] * 1e3:.0f} ms, paid by both)")
    print()
    _print_warm(warm, args.repeat)


def _print_warm(runs: dict[str, list[dict[str, Any]]], repeat: int) -> None:
    med = {
        name: {k: median(r[k] for r in rs) for k in ("import", "first call cpu")}
        for name, rs in runs.items()
    }
    rows = [
        [
            name,
            f"{med[name]['import'] * 1e3:.1f}",
            f"{med[name]['first call cpu'] * 1e3:.1f}",
            f"{sum(r['cattrs'] for r in rs)}/{len(rs)}",
            f"{sum(r['botocore'] for r in rs)}/{len(rs)}",
        ]
        for name, rs in runs.items()
    ]
    print(
        f"Keys in the environment, explicit endpoint, aiohttp already imported; "
        f"medians of {repeat} fresh interpreters"
    )
    headers = [
        "client",
        "import ms",
        "client + first call CPU ms",
        "cattrs loaded",
        "botocore loaded",
    ]
    print(table(headers, rows))
    ours, peer = med["aioecs"], med["aiobotocore"]
    print(
        f"aioecs / aiobotocore: import {ours['import'] / peer['import']:.2f}x, "
        f"client + first call CPU {ours['first call cpu'] / peer['first call cpu']:.2f}x"
    )
    print(
        f"aioecs / target: import {ours['import'] / IMPORT_TARGET_S:.2f}x of 20 ms, "
        f"client + first call CPU {ours['first call cpu'] / FIRST_CALL_TARGET_S:.2f}x of 60 ms"
    )


if __name__ == "__main__":
    main()
