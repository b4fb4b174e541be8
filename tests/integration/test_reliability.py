"""Reliability against a misbehaving service (LocalECS with seeded faults), over real HTTP:
fan-outs finish exactly once, StartTask is never duplicated, broken answers are typed errors,
timeouts hold, adaptive retries send less, credentials refresh once per expiry."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web

from aioecs import ECSClient
from aioecs._credentials import BotocoreCredentialProvider
from aioecs.errors import ECSError, ResponseError, TransportError
from aioecs.testing import Faults, LocalECS

from ..servers import client_for


@pytest.fixture
async def local() -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=11) as server:
        yield server


async def _instances(local: LocalECS, ecs: ECSClient, n: int) -> list[str]:
    await ecs.create_cluster(cluster_name="prod")
    await ecs.register_task_definition(
        family="job", container_definitions=[{"name": "job", "image": "busybox", "memory": 64}]
    )
    arns = []
    for _ in range(n):
        out = await ecs.register_container_instance(cluster="prod")
        assert out.container_instance and out.container_instance.container_instance_arn
        arns.append(out.container_instance.container_instance_arn)
    return arns


async def test_fan_out_under_ten_percent_faults_yields_every_task_once(local: LocalECS) -> None:
    seeded = set(local.seed_tasks(5000, cluster="prod"))
    local.faults = Faults(
        seed=7,
        throttle=0.02,
        server_error=0.015,
        unavailable=0.015,
        reset_before=0.01,
        reset_after=0.015,
        truncated=0.015,
        html_502=0.01,
    )
    async with client_for(local, max_attempts=8) as ecs:
        stream = ecs.iter_tasks(cluster="prod")
        arns = [task.task_arn async for task in stream]
    injected = sum(local.fault_counts.values())
    print(f"\nfaults injected {dict(local.fault_counts)}; requests {dict(local.request_count)}")
    assert injected >= 5  # the test really met faults
    assert len(arns) == len(set(arns)) == 5000  # none duplicated
    assert set(arns) == seeded  # none lost
    assert stream.failures == []


async def test_start_task_is_never_repeated_after_a_lost_answer(local: LocalECS) -> None:
    async with client_for(local, max_attempts=5) as ecs:
        instances = await _instances(local, ecs, 3)
        local.faults = Faults(seed=3, reset_after=1.0, operations={"StartTask"})
        with pytest.raises(TransportError) as caught:
            await ecs.start_task(
                cluster="prod", task_definition="job", container_instances=instances,
                started_by="once",
            )  # fmt: skip
        assert caught.value.sent is True  # it may have been processed: it was
        assert local.processed_count["StartTask"] == 1
        assert local.task_count("prod", started_by="once") == 3  # asked for 3, got 3

        # Many calls, a third of the answers lost: no call is ever processed twice.
        local.faults = Faults(seed=4, reset_after=0.3, truncated=0.1, throttle=0.2,
                              operations={"StartTask"})  # fmt: skip
        outcomes = {"ok": 0, "lost": 0}
        for i in range(40):
            try:
                await ecs.start_task(
                    cluster="prod", task_definition="job", container_instances=instances[:1],
                    started_by=f"call-{i}",
                )  # fmt: skip
                outcomes["ok"] += 1
            except (TransportError, ResponseError):
                outcomes["lost"] += 1
        duplicates = sum(
            max(0, local.task_count("prod", started_by=f"call-{i}") - 1) for i in range(40)
        )
        print(
            f"\nStartTask: {outcomes}, faults {dict(local.fault_counts)}, duplicates {duplicates}"
        )
        assert duplicates == 0
        assert outcomes["lost"] > 0 and local.fault_counts["throttle"] > 0  # retried safely


async def test_run_task_retries_safely_with_its_idempotency_token(local: LocalECS) -> None:
    async with client_for(local, max_attempts=6) as ecs:
        await _instances(local, ecs, 2)
        local.faults = Faults(seed=5, reset_after=0.5, operations={"RunTask"})
        out = await ecs.run_task(cluster="prod", task_definition="job", count=2, started_by="run")
        assert len(out.tasks) == 2
        assert local.processed_count["RunTask"] >= 1
        assert local.task_count("prod", started_by="run") == 2  # the token made retries safe


async def test_broken_answers_are_typed_and_the_client_stays_usable(local: LocalECS) -> None:
    async with client_for(local, max_attempts=2) as ecs:
        local.faults = Faults(html_502=1.0)
        with pytest.raises(ECSError) as proxy:
            await ecs.list_clusters()
        assert (proxy.value.status, proxy.value.code) == (502, "HTTP502")
        local.faults = Faults(truncated=1.0)
        with pytest.raises(TransportError) as truncated:
            await ecs.list_clusters()
        assert truncated.value.code == "ConnectionLost"
        local.faults = Faults(reset_before=1.0)
        with pytest.raises(TransportError):
            await ecs.list_clusters()
        local.faults = None
        assert (await ecs.list_clusters()).cluster_arns == []


async def test_read_and_total_timeouts_are_enforced(local: LocalECS) -> None:
    local.faults = Faults(latency_spike=1.0, spike_ms=3000)
    for options in ({"read_timeout": 0.2}, {"timeout": 0.2}):
        async with client_for(local, max_attempts=2, **options) as ecs:
            started = time.monotonic()
            with pytest.raises(TransportError) as caught:
                await ecs.list_clusters()
            assert caught.value.code == "Timeout"
            assert time.monotonic() - started < 2.5  # two short attempts, not 3 s each


async def test_pacing_is_throttled_only_while_it_measures_the_bucket() -> None:
    """Under an ECS-like quota, brute force (standard retries, no pacing) meets heavy
    throttling and botocore's adaptive mode sends fewer requests; the default pacing is
    throttled only by the requests in flight when it first meets the bucket, and a second
    fan-out, with the bucket measured, is hardly throttled (a request or two at most)."""
    settings: dict[str, dict[str, Any]] = {
        "standard": {"retry_mode": "standard", "rate_limits": False},
        "adaptive": {"retry_mode": "adaptive", "rate_limits": False},
        # The category's documented quota is this server's, as the pacer's prior.
        "paced": {"rate_limits": {"cluster_resource_read": (3.0, 12.0)}},
    }
    totals = {}
    for name, options in settings.items():
        async with LocalECS(seed=2) as local:
            local.seed_tasks(1500, cluster="prod")
            # One token bucket for ListTasks and DescribeTasks, 12 requests/s, burst 3: it
            # refills in 250 ms, so a stall of the loop between the two paced fan-outs (a full
            # collection late in a long test run) does not refill it and rightly make the
            # pacer measure it afresh, as a burst of 1 (refilled in 83 ms) did on a busy CI.
            local.faults = Faults(rate_limit=(12.0, 3.0), rate_limit_scope="global")
            async with client_for(local, max_attempts=10, **options) as ecs:
                runs = 2 if name == "paced" else 1
                for run in range(runs):
                    stream = ecs.iter_tasks(cluster="prod", concurrency=16)
                    arns = [t.task_arn async for t in stream]
                    assert len(arns) == len(set(arns)) == 1500
                    totals[name, run] = (stream.counts.sent, stream.counts.throttled)
            sent = sum(local.request_count.values())
            assert sent == sum(totals[name, run][0] for run in range(runs))
    print(f"\nrequests (sent, throttled): {totals}")
    sent, throttled = totals["standard", 0]
    assert throttled / sent >= 0.25  # the scenario: brute force meets heavy throttling
    assert totals["adaptive", 0][0] < sent
    assert totals["paced", 0][1] <= 16 + 1  # at most what was in flight, and the retry
    assert totals["paced", 1][1] <= 2


@pytest.mark.usefixtures("hermetic_env")
async def test_credentials_refresh_once_per_expiry_during_a_fan_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lifetime = 2.0
    issued: list[tuple[str, datetime]] = []
    async with LocalECS(seed=9) as local:
        local.seed_tasks(3000, cluster="prod")
        local.latency_ms = 15
        counter = itertools.count(1)

        async def credentials(request: web.Request) -> web.Response:
            assert request.headers.get("Authorization") == "container-token"
            n = next(counter)
            key, secret = f"AKIDGEN{n:04d}", f"secret-{n}"
            expiry = datetime.now(timezone.utc) + timedelta(seconds=lifetime)
            local.allow_key(key, secret)
            # AWS rejects a key after its expiry: so does the emulator.
            asyncio.get_running_loop().call_later(lifetime, local.revoke_key, key)
            issued.append((key, expiry))
            return web.json_response({
                "AccessKeyId": key, "SecretAccessKey": secret, "Token": f"token-{n}",
                "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
            })  # fmt: skip

        app = web.Application()
        app.router.add_get("/creds", credentials)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        # In the hermetic environment, the container provider is the only one that answers.
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"http://127.0.0.1:{port}/creds")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-token")
        provider = BotocoreCredentialProvider(
            advisory_refresh_seconds=1.0, mandatory_refresh_seconds=0.6
        )
        try:
            async with client_for(local, credentials=provider) as ecs:
                started = time.monotonic()
                total = 0
                while time.monotonic() - started < 4.5:  # several expiries
                    total += sum([1 async for _ in ecs.iter_tasks(cluster="prod")])
        finally:
            await runner.cleanup()
    elapsed = time.monotonic() - started
    print(f"\n{len(issued)} credential sets over {elapsed:.1f} s; {total} tasks read")
    assert total >= 6000
    # Every request verified (a revoked key would have failed the fan-out), and one refresh
    # per lifetime: not one per request, not one per concurrent caller.
    assert 2 <= len(issued) <= elapsed / (lifetime - 1.0) + 2
