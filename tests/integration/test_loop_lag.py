"""The event loop never stalls while a client is created, connects and makes its first call.

Measured in a fresh interpreter, so every import is cold, against a LocalECS in this process:
a 1 ms ticker records the longest the loop went without running it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from aioecs.testing import LocalECS

from .._env import hermetic_environ

MAX_STEP_MS = 20

PROBE = """
import asyncio, json, os, time

from aioecs import ECSClient  # before the loop starts, as programs do


async def main():
    gaps, done = [], False

    async def ticker():
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.05)
    gaps.clear()
    async with ECSClient() as ecs:  # region, endpoint and keys from the environment
        await ecs.describe_tasks(cluster="prod", tasks=os.environ["PROBE_ARNS"].split(","))
    done = True
    await tick
    print(json.dumps({"max_ms": max(gaps) * 1000, "ticks": len(gaps)}))


asyncio.run(main())
"""


async def _probe(env: dict[str, str]) -> dict[str, float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PROBE, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    result: dict[str, float] = json.loads(out)
    return result


async def test_first_call_does_not_stall_the_loop(tmp_path: Path) -> None:
    async with LocalECS() as local:
        arns = local.seed_tasks(3, cluster="prod")
        env = hermetic_environ(tmp_path) | local.endpoint.env() | {"PROBE_ARNS": ",".join(arns)}
        # On a shared machine another process can take the CPU for a while: a stall of our
        # own shows in every run, so the best of three is what is judged.
        runs = []
        for _ in range(3):
            runs.append(await _probe(env))
            if runs[-1]["max_ms"] <= MAX_STEP_MS:
                break
    best = min(runs, key=lambda run: run["max_ms"])
    assert best["ticks"] > 10  # the ticker ran throughout
    assert best["max_ms"] <= MAX_STEP_MS, runs
