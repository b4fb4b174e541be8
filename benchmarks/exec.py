"""ECS Exec data channel throughput on loopback: output frames received, acknowledged and
delivered in order per second.

    python benchmarks/exec.py [--frames 10000] [--frame-size 1024] [--repeat 3]

LocalECS runs in a child process (its agent stand-in sends every frame at once, as an agent
with a full output buffer does, and resends what is not acknowledged within 200 ms); this
process runs `exec_command`, which acknowledges each frame and reassembles the text. Per
run: wall time from the call to the result (ExecuteCommand and the WebSocket opening
included), frames/s, MB/s of payload, and this process's CPU time (`process_time`). The
output is checked byte for byte.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from multiprocessing.connection import Connection

COMMAND = "cat /var/log/app.log"


def _text(frames: int, frame_size: int) -> str:
    line = "x" * (frame_size - 2) + "\n"  # one CRLF line per frame under the PTY
    return line * frames


def _serve(conn: Connection, frames: int, frame_size: int) -> None:
    from aioecs.testing import LocalECS

    async def main() -> None:
        async with LocalECS(verify_signatures=False) as local:
            [task] = local.seed_tasks(1, cluster="bench")
            local.script_exec(COMMAND, output=_text(frames, frame_size), frame_size=frame_size)
            conn.send((local.endpoint_url, task))
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told

    asyncio.run(main())


async def _measure(url: str, task: str, expected: str) -> tuple[float, float]:
    from aioecs import Credentials, ECSClient

    credentials = Credentials(access_key_id="AKIDLOCALECS", secret_access_key="local-ecs-secret")
    async with ECSClient(region="us-east-1", endpoint_url=url, credentials=credentials) as ecs:
        await ecs.list_clusters()  # connected before timing
        cpu, wall = time.process_time(), time.perf_counter()
        result = await ecs.exec_command(cluster="bench", task=task, command=COMMAND, timeout=300)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if result.output != expected or result.exit_code != 0:
        raise SystemExit(f"wrong output: {len(result.output)} characters, exit {result.exit_code}")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--frame-size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    expected = _text(args.frames, args.frame_size).replace("\n", "\r\n")
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(child, args.frames, args.frame_size)
    )
    server.start()
    try:
        url, task = parent.recv()
        runs = [asyncio.run(_measure(url, task, expected)) for _ in range(args.repeat)]
    finally:
        parent.send("stop")
        server.join(30)
    payload_mb = args.frames * args.frame_size / 1e6
    print(f"{args.frames} frames of {args.frame_size} bytes, {args.repeat} runs (median):")
    wall = statistics.median(w for w, _ in runs)
    cpu = statistics.median(c for _, c in runs)
    print(
        f"  wall {wall:.2f} s   {args.frames / wall:,.0f} frames/s   {payload_mb / wall:.1f} MB/s"
    )
    print(f"  client CPU {cpu:.2f} s   {cpu / args.frames * 1e6:.0f} us per frame")
    print("  runs (wall s): " + ", ".join(f"{w:.2f}" for w, _ in runs))


if __name__ == "__main__":
    main()
