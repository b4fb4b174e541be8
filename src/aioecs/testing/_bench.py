"""Measure LocalECS's own cost per request: ``python -m aioecs.testing._bench [tasks] [rounds]``.

The emulator runs on its own event loop in a thread; a client on the main thread sends real
HTTP requests over loopback (pre-signed once with botocore's SigV4, so client-side signing is not
in the loop). Two numbers per request:

* handler: CPU time inside ``LocalECS._handle`` (signature check, the operation, JSON encoding;
  it does not suspend when there is no latency injection) - the emulator's own cost;
* server CPU: the server thread's CPU time (``time.thread_time``), which adds aiohttp's HTTP
  parsing and response writing and the kernel's loopback send.

Neither includes the client or time spent waiting for the GIL. A development tool; not part of
the public API.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import Any

import aiohttp
from aiohttp import web

from ._server import TARGET_PREFIX, LocalECS


def _signed(
    local: LocalECS, operation: str, payload: dict[str, Any]
) -> tuple[dict[str, str], bytes]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps(payload).encode()
    request = AWSRequest(
        method="POST",
        url=local.endpoint_url + "/",
        data=body,
        headers={
            "X-Amz-Target": TARGET_PREFIX + operation,
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SigV4Auth(Credentials(*local.credentials), "ecs", local.region).add_auth(request)
    return dict(request.headers.items()), body


class _ServerThread:
    def __init__(self, local: LocalECS) -> None:
        self.local = local
        self.handler_seconds = 0.0
        handle = local._handle

        async def timed(request: web.BaseRequest) -> web.StreamResponse:
            started = time.thread_time()
            try:
                return await handle(request)
            finally:
                self.handler_seconds += time.thread_time() - started

        local._handle = timed  # type: ignore[method-assign]
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> _ServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.local.start(), self.loop).result()
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.local.close(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()

    def cpu_seconds(self) -> float:
        async def read() -> float:
            return time.thread_time()

        return asyncio.run_coroutine_threadsafe(read(), self.loop).result()


async def _drive(
    server: _ServerThread, requests: list[tuple[dict[str, str], bytes]], rounds: int
) -> tuple[float, float]:
    """Send every request ``rounds`` times, one at a time; µs per request: handler, server CPU."""
    url = server.local.endpoint_url + "/"
    async with aiohttp.ClientSession() as session:
        for headers, body in requests:  # warm up: connection, caches
            async with session.post(url, data=body, headers=headers) as r:
                assert r.status == 200, await r.text()
        before, handler_before = server.cpu_seconds(), server.handler_seconds
        for _ in range(rounds):
            for headers, body in requests:
                async with session.post(url, data=body, headers=headers) as r:
                    await r.read()
        spent = server.cpu_seconds() - before
        handler = server.handler_seconds - handler_before
    n = rounds * len(requests)
    return handler / n * 1e6, spent / n * 1e6


def main(argv: list[str]) -> None:
    n_tasks = int(argv[0]) if argv else 10_000
    rounds = int(argv[1]) if len(argv) > 1 else 500
    local = LocalECS(seed=1)
    started = time.perf_counter()
    arns = local.seed_tasks(n_tasks, cluster="bench", family="web")
    seeded = time.perf_counter() - started
    print(f"seed_tasks({n_tasks}): {seeded * 1e3:.0f} ms, {seeded / n_tasks * 1e6:.1f} µs/task")
    with _ServerThread(local) as server:
        # A page from the middle of the listing, so ListTasks has to resume from a token.
        first = local.state.list_tasks({"cluster": "bench", "maxResults": n_tasks // 200 or 1})
        token = first.get("nextToken")
        list_payload: dict[str, Any] = {"cluster": "bench", "maxResults": 100}
        if token:
            list_payload["nextToken"] = token
        page = arns[n_tasks // 2 : n_tasks // 2 + 100]
        cases = {
            "ListTasks(100)": [_signed(local, "ListTasks", list_payload)],
            "DescribeTasks(100)": [
                _signed(local, "DescribeTasks", {"cluster": "bench", "tasks": page})
            ],
        }
        for verify in (True, False):
            local.verify_signatures = verify
            costs = {
                name: asyncio.run(_drive(server, reqs, rounds)) for name, reqs in cases.items()
            }
            print(f"verify_signatures={verify}:")
            for name, (handler, cpu) in costs.items():
                print(f"  {name:20} handler {handler:6.0f} µs   server CPU {cpu:6.0f} µs")
            handler = sum(h for h, _ in costs.values())
            cpu = sum(c for _, c in costs.values())
            print(f"  {'both':20} handler {handler:6.0f} µs   server CPU {cpu:6.0f} µs")


if __name__ == "__main__":
    main(sys.argv[1:])
