"""Sweeping a fleet with `iter_fleet_tasks` when clients overlap: each task comes once
(issue 24, finding 7), against LocalECS over loopback HTTP."""

from __future__ import annotations

from aioecs import iter_fleet_tasks
from aioecs.testing import LocalECS

from ..servers import client_for


async def test_a_region_given_twice_is_swept_once_and_each_task_comes_once() -> None:
    async with LocalECS(region="eu-west-1", seed=7) as local:
        arns = set(local.seed_tasks(250, cluster="prod"))
        port = local.endpoint_url.rsplit(":", 1)[1]
        async with (
            client_for(local) as first,
            client_for(local) as again,  # the same key, Region and endpoint: not swept again
            # The same account through another name for the endpoint: swept, deduped by ARN.
            client_for(local, endpoint_url=f"http://localhost:{port}") as other,
            iter_fleet_tasks([first, again, other], cluster="prod") as fleet,
        ):
            seen = [item.task.task_arn async for item in fleet]
        assert len(seen) == len(set(seen)) == 250 and set(seen) == arns
        assert fleet.yielded == 250 and not fleet.failures
        first_stream, again_stream, other_stream = fleet.streams
        assert first_stream.yielded == other_stream.yielded == 250
        assert again_stream.counts.sent == 0
