"""CPU to turn one 100-task DescribeTasks response body into something a program can use.

    python benchmarks/decode.py [--reps 50] [--rounds 7]

The body is what LocalECS answers for 100 seeded Fargate tasks with two containers and five
timestamps each (~270 KiB). Each way of decoding it runs in a fresh interpreter, which reports
its one-off costs - setup (botocore: loading the service model, which a client does when it is
created; aioecs iter_tasks: generating the Task decoder) and the first call (lazy imports,
generated code) - and then the median over ``--rounds`` rounds of ``--reps`` calls, timed with
``time.process_time``, once as a program runs (the cyclic garbage collector on) and once with
the collector off, which leaves the work itself. Steady-state results are ratios to bare
``json.loads`` (timed the same way), the part every client pays; the rest is the price of its
output:

* botocore parser: what aiobotocore and boto3 do per response (plain dicts, datetimes);
* aioecs: ``json.loads`` + ``serde.decode(DescribeTasksResponse, ...)``, typed models;
* aioecs iter_tasks: ``json.loads`` + ``serde.decoder(Task)`` per task, what the fan-out does;
* aioecs iter_tasks, page held from GC: the same, the page's decode inside
  ``_decoding.collected_after`` (what ``serde.decode`` does for a whole response);
* with orjson importable (aioecs' ``fast`` extra, which its client then uses):
  ``orjson.loads`` alone and + each aioecs decode.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _harness import emit, median, run_child, table
from _server import seed_bench_tasks

TIMESTAMPS = ("createdAt", "connectivityAt", "pullStartedAt", "pullStoppedAt", "startedAt")


def build_body(count: int = 100) -> bytes:
    """A DescribeTasks body as LocalECS sends it, built without a server."""
    from aioecs.testing import LocalECS

    local = LocalECS(seed=1)
    arns = seed_bench_tasks(local, cluster="bench", count=count)
    tasks = [local.describe_task(arn) for arn in arns]
    for task in tasks:
        task.pop("tags", None)  # describe_task shows include=["TAGS"]; the fan-out does not ask
        assert len(task["containers"]) == 2 and all(k in task for k in TIMESTAMPS)
    return json.dumps({"tasks": tasks, "failures": []}, separators=(",", ":")).encode()


def make_case(name: str) -> Callable[[bytes], Any]:
    """The decoding function for a case; its setup (loading models) is not timed."""
    if name == "json.loads":
        return json.loads
    if name == "botocore parser":
        import botocore.session
        from botocore.parsers import create_parser

        model = botocore.session.get_session().get_service_model("ecs")
        shape = model.operation_model("DescribeTasks").output_shape
        parser = create_parser("json")
        return lambda body: parser.parse({"body": body, "headers": {}, "status_code": 200}, shape)

    from aioecs import models, serde

    loads: Callable[[bytes], Any] = json.loads
    if name.startswith("orjson"):
        import orjson

        if name == "orjson.loads":
            return orjson.loads
        loads = orjson.loads
    if name.endswith("iter_tasks"):
        decode_task = serde.decoder(models.Task)
        return lambda body: [decode_task(raw) for raw in loads(body)["tasks"]]
    if name.endswith(HELD):
        from aioecs._decoding import collected_after

        decode_task = serde.decoder(models.Task)

        def decode_page(page: Any) -> list[models.Task]:
            return [decode_task(raw) for raw in page["tasks"]]

        return lambda body: collected_after(decode_page, loads(body))
    return lambda body: serde.decode(models.DescribeTasksResponse, loads(body))


HELD = "iter_tasks, page held from GC"
CASES = ["json.loads", "botocore parser", "aioecs", "aioecs iter_tasks", f"aioecs {HELD}"]
ORJSON_CASES = ["orjson.loads", "orjson + aioecs", "orjson + aioecs iter_tasks"]


def child(name: str, reps: int, rounds: int) -> None:
    body = build_body()
    started = time.process_time()
    decode = make_case(name)
    setup = time.process_time() - started
    started = time.process_time()
    decode(body)
    first = time.process_time() - started

    def warm() -> float:
        per_call = []
        for _ in range(rounds):
            started = time.process_time()
            for _ in range(reps):
                decode(body)
            per_call.append((time.process_time() - started) / reps)
        return median(per_call)

    warm_s = warm()
    gc.disable()
    warm_gc_off_s = warm()
    gc.enable()
    emit(
        {
            "setup_s": setup,
            "first_s": first,
            "warm_s": warm_s,
            "warm_gc_off_s": warm_gc_off_s,
            "body_bytes": len(body),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--cases", nargs="+", metavar="CASE", help="only these rows (json.loads always runs)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.reps, args.rounds)
        return

    cases = list(CASES)
    try:
        import orjson  # noqa: F401
    except ImportError:
        print("(orjson is not installed: its rows are skipped)")
    else:
        cases += ORJSON_CASES
    if args.cases:
        cases = ["json.loads", *(c for c in cases if c in args.cases and c != "json.loads")]
    child_args = ["--reps", str(args.reps), "--rounds", str(args.rounds)]
    results = {
        name: run_child(Path(__file__), ["--child", name, *child_args], label=name)
        for name in cases
    }
    base = results["json.loads"]["warm_s"]
    base_off = results["json.loads"]["warm_gc_off_s"]
    size = results["json.loads"]["body_bytes"]
    print(
        f"DescribeTasks body: 100 tasks, 2 containers each, {size / 1024:.0f} KiB; "
        f"CPU per body, median of {args.rounds} x {args.reps}"
    )
    rows = [
        [
            name,
            f"{r['warm_s'] * 1e3:.2f}",
            f"{r['warm_s'] / base:.2f}x",
            f"{r['warm_gc_off_s'] * 1e3:.2f}",
            f"{r['warm_gc_off_s'] / base_off:.2f}x",
            f"{r['setup_s'] * 1e3:.1f}",
            f"{r['first_s'] * 1e3:.1f}",
        ]
        for name, r in results.items()
    ]
    headers = [
        "decoder",
        "ms/body",
        "/ json.loads",
        "GC off ms",
        "GC off / json.loads",
        "setup ms",
        "first call ms",
    ]
    print(table(headers, rows))
    if "aioecs iter_tasks" in results and "botocore parser" in results:
        ours, peer = results["aioecs iter_tasks"]["warm_s"], results["botocore parser"]["warm_s"]
        print(f"aioecs iter_tasks / botocore parser: {ours / peer:.2f}x")


if __name__ == "__main__":
    main()
