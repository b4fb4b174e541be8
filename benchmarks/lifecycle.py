"""Deadlines and close() when the network hangs: how late a deadline ends a call, and how
long close() takes to end calls in flight.

    python benchmarks/lifecycle.py [--repeat 9] [--calls 20]

Against a loopback server that accepts every request and never answers (tests/loopback.py's
``never_answers``):

1. Deadline overshoot: a call with ``timeout=0.5, total_timeout=2.0`` (each attempt may take
   0.5 s, then a retry follows); how long after the 2.0 s the calls the deadline ended did
   end (median, min, max of ``--repeat`` calls, one at a time, each on a fresh client), and
   what every call ended with (one whose attempts all timed out early ends before it).
2. close(): ``--calls`` calls in flight (every request read by the server), then
   ``await client.close()``: how long until close() returned and until every call had ended,
   and with what. Median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.loopback import loopback, never_answers


async def deadline_overshoot(repeat: int) -> tuple[list[float], Counter[str]]:
    overshoots: list[float] = []
    ended: Counter[str] = Counter()
    async with loopback(never_answers) as server:
        for _ in range(repeat):
            async with server.client(timeout=0.5, total_timeout=2.0, rate_limits=False) as ecs:
                started = time.monotonic()
                try:
                    await ecs.list_clusters()
                except Exception as exc:
                    ended[type(exc).__name__] += 1
                    # Three attempts that time out quickly (little jitter) end the call
                    # before its deadline: only a call the deadline ended overshoots it.
                    if type(exc).__name__ == "DeadlineExceeded":
                        overshoots.append((time.monotonic() - started - 2.0) * 1000)
    return overshoots, ended


async def close_in_flight(repeat: int, calls: int) -> tuple[list[float], list[float], Counter[str]]:
    closing: list[float] = []
    all_ended: list[float] = []
    ended: Counter[str] = Counter()
    async with loopback(never_answers) as server:
        for _ in range(repeat):
            ecs = server.client(rate_limits=False)
            before = server.requests
            tasks = [asyncio.ensure_future(ecs.list_clusters()) for _ in range(calls)]
            while server.requests < before + calls:
                await asyncio.sleep(0.001)
            started = time.monotonic()
            await ecs.close()
            closing.append((time.monotonic() - started) * 1000)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            all_ended.append((time.monotonic() - started) * 1000)
            ended.update(type(r).__name__ for r in results)
    return closing, all_ended, ended


def _ms(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):7.1f} ms   "
        f"min {min(values):7.1f}   max {max(values):7.1f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    overshoots, ended = await deadline_overshoot(args.repeat)
    print(f"deadline overshoot (timeout=0.5, total_timeout=2.0, {args.repeat} calls)")
    print(f"  {_ms(overshoots)}   ended with {dict(ended)}")
    closing, all_ended, closed = await close_in_flight(args.repeat, args.calls)
    print(f"close() with {args.calls} calls in flight ({args.repeat} runs)")
    print(f"  close() returned:     {_ms(closing)}")
    print(f"  every call had ended: {_ms(all_ended)}   ended with {dict(closed)}")


if __name__ == "__main__":
    asyncio.run(main())
