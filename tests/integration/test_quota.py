"""Pacing to ECS's request quotas: the pacer's arithmetic, LocalECS's buckets, and fan-outs
that finish, politely, under throttling and faults (LocalECS over real HTTP)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import pytest

from aioecs import ECSClient, iter_fleet_tasks
from aioecs._limits import CATEGORIES, Pacer, Pacing, Quota, pacing_for
from aioecs.errors import ClusterNotFoundException, ECSError, ResponseError, ThrottlingException
from aioecs.testing import Faults, LocalECS

from ..servers import client_for


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- the pacer ---------------------------------------------------------------------------------


def test_every_ecs_category_and_its_documented_quota() -> None:
    assert {name: tuple(quota) for name, quota in CATEGORIES.items()} == {
        "cluster_resource_read": (100, 20),
        "cluster_resource_modify": (100, 40),
        "cluster_read": (50, 20),
        "service_read": (100, 20),
        "task_definition_read": (50, 20),
        "tag_read": (50, 20),
        "task_definition_modify": (20, 1),
        "service_modify": (50, 5),
    }
    # Which operations share a bucket is in their descriptors (codegen/customizations.py).
    category_of = ECSClient._service.category_of
    assert category_of("ListTasks") == category_of("DescribeTasks") == "cluster_resource_read"
    assert category_of("StartTask") == "cluster_resource_modify"
    assert category_of("ListTagsForResource") == "tag_read"
    assert category_of("DescribeCapacityProviders") is None
    assert category_of("NoSuchOperation") is None
    categorized = {op for op in ECSClient._service.operations if category_of(op)}
    assert len(categorized) == 27 and {category_of(op) for op in categorized} == set(CATEGORIES)


def test_unpaced_until_the_first_throttle() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    for _ in range(500):
        assert pacer.reserve() == (0.0, clock.now)
        clock.now += 0.001
    assert not pacer.paced


def _empty(pacer: Pacer, clock: Clock) -> None:
    """Two throttles in a row: what an empty bucket answers (the second confirms the first)."""
    pacer.throttled(clock.now)
    pacer.throttled(clock.now)


def test_first_throttle_measures_the_share_of_the_bucket_left_to_us() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    # Others spend 3/4 of the bucket: 25 + 5/s got through in the first second.
    for _ in range(30):
        _, sent = pacer.reserve()
        pacer.succeeded(sent)
        clock.now += 1 / 30
    clock.now = 101.0
    pacer.throttled(clock.now - 0.01)
    assert not pacer.paced  # one throttle alone is not believed
    clock.now = 101.02
    pacer.throttled(101.005)  # a request in flight after it: throttled too
    assert pacer.paced
    # Measured when the first came: 30 in 1 s.
    assert pacer.rate == pytest.approx(20 * 30 / (100 + 20 * 1.0))  # 5 per second
    assert pacer.burst == pytest.approx(100 * 30 / 120)
    # The bucket is empty now: the next request waits for one token at that rate.
    wait, sent = pacer.reserve()
    assert wait == pytest.approx(1 / 5)
    assert sent == pytest.approx(clock.now + wait)
    # Requests reserve in order, each one slot later.
    wait2, _ = pacer.reserve()
    assert wait2 == pytest.approx(2 / 5)


def test_an_isolated_throttle_changes_no_estimate_and_stops_the_probe() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    _, sent = pacer.reserve()
    _empty(pacer, clock)  # paced at 10/s
    clock.now += 10
    assert pacer.pace() == pytest.approx(10 * 1.3)  # probing: 1 + 0.0003 * 10**3
    pacer.throttled(clock.now - 0.05)
    for _ in range(2):  # requests sent after it get through: the bucket was not empty
        clock.now += 0.1
        _, sent = pacer.reserve()
        pacer.succeeded(sent)
    clock.now += 0.5
    pacer.throttled(clock.now)  # not a confirmation: a new, isolated one
    assert pacer.rate == pytest.approx(10.0)
    assert pacer.pace() == pytest.approx(10)  # the probe starts again from the rate
    unpaced = Pacer(Quota(100, 20), clock)
    unpaced.reserve()
    unpaced.throttled(clock.now)
    for _ in range(2):
        clock.now += 0.01
        _, sent = unpaced.reserve()
        unpaced.succeeded(sent)
    unpaced.throttled(clock.now)
    assert not unpaced.paced


def test_an_empty_bucket_from_the_start_halves_the_documented_rate() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    pacer.reserve()
    _empty(pacer, clock)
    assert (pacer.rate, pacer.burst) == (10.0, 50.0)


def test_later_throttles_measure_the_rate_between_them() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    pacer.reserve()
    _empty(pacer, clock)  # episode at t=100, rate 10
    for _ in range(16):  # 16 successes in 2 s
        clock.now += 0.125
        _, sent = pacer.reserve()
        pacer.succeeded(sent)
    clock.now = 102.0
    pacer.throttled(101.9)
    clock.now = 102.01
    pacer.throttled(101.95)
    assert pacer.rate == pytest.approx(8.0)
    # A throttle of a request sent before that one carries no news.
    pacer.throttled(101.5)
    pacer.throttled(101.6)
    assert pacer.rate == pytest.approx(8.0)
    # One with too few successes since: halve.
    for _ in range(3):
        _, sent = pacer.reserve()
        pacer.succeeded(sent)
    clock.now = 102.5
    _empty(pacer, clock)
    assert pacer.rate == pytest.approx(4.0)
    clock.now = 102.6
    _empty(pacer, clock)
    assert pacer.rate == pytest.approx(2.0)
    for _ in range(10):
        clock.now += 0.05
        _empty(pacer, clock)
    assert pacer.rate == pytest.approx(2.0)  # a tenth of 20/s: as low as hearsay goes
    for _ in range(4):  # a measurement may go lower: 4 successes in 8 s
        clock.now += 2
        _, sent = pacer.reserve()
        pacer.succeeded(sent)
    _empty(pacer, clock)
    assert pacer.rate == pytest.approx(0.5)
    clock.now += 0.1
    _empty(pacer, clock)
    assert pacer.rate == pytest.approx(0.5)  # below the floor: no lower by hearsay
    slow = Pacer(Quota(20, 1), clock)
    for _ in range(12):
        clock.now += 0.05
        _empty(slow, clock)
    assert slow.rate == pytest.approx(0.2)  # and never below MIN_RATE


def test_pace_probes_upward_while_nothing_is_throttled() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    pacer.reserve()
    _empty(pacer, clock)  # rate 10
    assert pacer.pace() == pytest.approx(10)
    clock.now += 10
    assert pacer.pace() == pytest.approx(10 * 1.3)  # 1 + 0.0003 * 10**3
    clock.now += 5
    assert pacer.pace() == pytest.approx(10 * (1 + 0.0003 * 15**3))  # about twice the rate


def test_optimistic_again_once_the_mirror_refilled() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    pacer.reserve()
    _empty(pacer, clock)  # rate 10, burst 50: refilled after ~5 s
    clock.now += 1.0
    assert pacer.reserve()[0] == 0.0 and pacer.paced  # a token was there
    clock.now += 6.0
    assert pacer.reserve() == (0.0, clock.now)
    assert not pacer.paced


def test_pacer_repr() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    assert repr(pacer) == "<Pacer unpaced quota=(100, 20)>"
    pacer.reserve()
    _empty(pacer, clock)
    assert repr(pacer) == "<Pacer rate=10.00/s burst=50>"


@pytest.mark.parametrize(("successes", "rate"), [(3, 10.0), (4, 20 * 4 / (100 + 20 * 2.0))])
def test_four_successes_are_enough_to_measure_the_bucket(successes: int, rate: float) -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    for _ in range(successes):
        pacer.succeeded(pacer.reserve()[1])
    clock.now += 2.0
    _empty(pacer, clock)
    assert pacer.rate == pytest.approx(rate)


def test_a_measured_share_never_goes_below_the_floors() -> None:
    clock = Clock()
    pacer = Pacer(Quota(20, 1), clock)
    for _ in range(4):  # 4 over 1000 s of a 20 + 1/s bucket: 0.4% of it
        pacer.succeeded(pacer.reserve()[1])
    clock.now += 1000.0
    _empty(pacer, clock)
    assert (pacer.rate, pacer.burst) == (0.2, 1.0)


def test_only_successes_sent_since_the_last_throttle_count() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    early = pacer.reserve()[1]
    clock.now = 100.5
    pacer.reserve()
    _empty(pacer, clock)  # episode at 100.5, rate 10
    clock.now = 101.0
    pacer.succeeded(early)  # sent before the throttle: no measure of the rate since
    assert pacer.last_success == 101.0
    for _ in range(3):
        pacer.succeeded(pacer.reserve()[1])
    clock.now = 102.0
    _empty(pacer, clock)
    assert pacer.rate == pytest.approx(5.0)  # 3 successes are too few: halved
    for _ in range(4):
        pacer.succeeded(pacer.reserve()[1])
    clock.now = 103.0
    _empty(pacer, clock)
    assert pacer.rate == pytest.approx(4.0)  # 4 in the second since


def test_a_throttle_keeps_the_slots_already_reserved() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    pacer.reserve()
    _empty(pacer, clock)  # rate 10, empty
    assert pacer.reserve()[0] == pytest.approx(1 / 10)
    _empty(pacer, clock)  # same instant: no success since, halved to 5
    assert pacer.reserve()[0] == pytest.approx(2 / 5)


def test_pacers_are_per_category_and_shared_per_key_region_and_endpoint() -> None:
    clock = Clock()
    pacing = Pacing(clock)
    reads = pacing.pacer("cluster_resource_read", {})
    assert reads is not None and reads.quota == Quota(100, 20)
    assert pacing.pacer("cluster_resource_read", {}) is reads
    assert pacing.pacer(None, {}) is None  # an operation in no category
    raised = {"service_modify": Quota(500, 50)}
    service = pacing.pacer("service_modify", raised)
    assert service is not None and service.quota == Quota(500, 50)
    assert pacing.pacer("service_modify", {}) is service  # made once, raised by the statement
    one = pacing_for("AKIDPACING", "eu-west-1", "http://127.0.0.1:1")
    assert pacing_for("AKIDPACING", "eu-west-1", "http://127.0.0.1:1") is one
    assert pacing_for("AKIDPACING", "eu-west-1", "http://127.0.0.1:2") is not one
    assert pacing_for("AKIDPACING", "eu-west-2", "http://127.0.0.1:1") is not one
    assert pacing_for("AKIDOTHER", "eu-west-1", "http://127.0.0.1:1") is not one


# -- LocalECS enforces the categories ----------------------------------------------------------


async def test_local_ecs_keeps_one_bucket_per_category() -> None:
    async with LocalECS(throttling="aws", throttling_scale=0.05) as local:  # burst 5 reads
        local.seed_tasks(3, cluster="prod")
        async with client_for(local, rate_limits=False, max_attempts=1) as ecs:
            arns = (await ecs.list_tasks(cluster="prod")).task_arns
            for _ in range(2):
                await ecs.list_tasks(cluster="prod")
                await ecs.describe_tasks(cluster="prod", tasks=arns)
            with pytest.raises(ThrottlingException) as caught:  # ListTasks + DescribeTasks: 5
                await ecs.describe_tasks(cluster="prod", tasks=arns)
            assert "(1 attempt)" in str(caught.value)
            assert isinstance(caught.value, ECSError) and caught.value.status == 400
            await ecs.list_clusters()  # another category, another bucket (burst 2.5)
            await ecs.list_clusters()
            with pytest.raises(ThrottlingException):
                await ecs.list_clusters()
        assert local.fault_counts["quota"] == 2
        local.throttling = "aws"  # refilled
        async with client_for(local, rate_limits=False, max_attempts=1) as ecs:
            await ecs.list_clusters()
    with pytest.raises(ValueError, match="throttling_scale"):
        LocalECS(throttling="aws", throttling_scale=0)


# -- fan-outs under quotas ---------------------------------------------------------------------


@pytest.fixture
async def quota_local() -> AsyncIterator[LocalECS]:
    # Burst 25 and 5 per second for the reads: an account whose other readers spend 3/4.
    async with LocalECS(seed=5, throttling="aws", throttling_scale=0.25) as server:
        yield server


async def test_fan_out_paces_to_a_quarter_of_the_bucket(quota_local: LocalECS) -> None:
    seeded = set(quota_local.seed_tasks(1500, cluster="prod"))
    # max_attempts=1: throttled reads are retried beyond it, paced, while ECS makes progress.
    async with client_for(quota_local, max_attempts=1) as ecs:
        stream = ecs.iter_tasks(cluster="prod")
        arns = [task.task_arn async for task in stream]
    assert len(arns) == len(set(arns)) == 1500 and set(arns) == seeded
    sent = sum(quota_local.request_count.values())
    throttled = quota_local.fault_counts["quota"]
    assert (stream.counts.sent, stream.counts.throttled) == (sent, throttled)
    assert stream.counts.retried == throttled
    assert 30 <= sent <= 36 and 1 <= throttled <= 6  # 15 pages + 15 batches, few throttled


async def test_pacing_is_shared_per_key_and_region_not_beyond() -> None:
    async with LocalECS(verify_signatures=False, throttling="aws", throttling_scale=0.25) as local:
        local.seed_tasks(3, cluster="prod")

        async def burst(ecs: ECSClient, n: int) -> int:
            before = local.fault_counts["quota"]
            await asyncio.gather(*(ecs.list_tasks(cluster="prod") for _ in range(n)))
            return local.fault_counts["quota"] - before

        async with client_for(local, region="us-east-1") as first:
            assert await burst(first, 30) >= 5  # unpaced: 25 pass, the rest throttled
        async with client_for(local, region="us-east-1") as second:
            assert await burst(second, 8) <= 1  # paced from its first request
        async with client_for(local, region="eu-west-1") as other_region:
            assert await burst(other_region, 8) >= 5  # its own, optimistic state


async def test_truncated_answers_are_retried_or_reported_as_maybe_processed() -> None:
    async with LocalECS(seed=8) as local, client_for(local, max_attempts=3) as ecs:
        local.faults = Faults(seed=1, short_body=0.5, operations={"ListClusters"})
        for _ in range(5):
            assert (await ecs.list_clusters()).cluster_arns == []
        assert local.fault_counts["short_body"] >= 2
        await ecs.create_cluster(cluster_name="prod")
        await ecs.register_task_definition(
            family="job", container_definitions=[{"name": "j", "image": "busybox"}]
        )
        instance = await ecs.register_container_instance(cluster="prod")
        assert instance.container_instance is not None
        arn = instance.container_instance.container_instance_arn
        local.faults = Faults(short_body=1.0, operations={"StartTask"})
        with pytest.raises(ResponseError, match="StartTask may have been processed"):
            await ecs.start_task(
                cluster="prod", task_definition="job", container_instances=[arn or ""]
            )
        assert local.processed_count["StartTask"] == 1  # not repeated


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_fan_out_under_ten_percent_faults_with_default_settings(seed: int) -> None:
    async with LocalECS(seed=seed) as local:
        seeded = set(local.seed_tasks(4000, cluster="prod"))
        local.faults = Faults(
            seed=seed,
            throttle=0.02,
            server_error=0.015,
            unavailable=0.015,
            reset_before=0.01,
            reset_after=0.01,
            truncated=0.01,
            short_body=0.01,
            html_502=0.01,
        )
        async with client_for(local) as ecs:
            stream = ecs.iter_tasks(cluster="prod", concurrency=4)
            arns = [task.task_arn async for task in stream]
    assert sum(local.fault_counts.values()) >= 5
    assert len(arns) == len(set(arns)) == 4000 and set(arns) == seeded
    assert stream.failures == [] and stream.errors == {}


async def test_fan_out_outlasts_a_page_failing_more_often_than_max_attempts() -> None:
    async with LocalECS(seed=4) as local:
        seeded = set(local.seed_tasks(300, cluster="prod"))
        async with client_for(local, max_attempts=1) as ecs:
            stream = ecs.iter_tasks(cluster="prod")
            arns = []
            async for task in stream:
                arns.append(task.task_arn)
                if len(arns) == 1:  # the next pages' calls fail 3 times each, then succeed
                    local.faults = Faults(seed=1, unavailable=0.75)
        assert set(arns) == seeded and len(arns) == 300
        assert local.fault_counts["unavailable"] >= 1
        assert stream.counts.retried >= local.fault_counts["unavailable"]


async def test_a_missing_cluster_does_not_stop_the_others() -> None:
    async with LocalECS(seed=6) as local:
        staging = set(local.seed_tasks(150, cluster="staging"))
        prod = set(local.seed_tasks(250, cluster="prod"))
        async with client_for(local) as ecs:
            stream = ecs.iter_tasks(clusters=["staging", "nope", "prod"])
            arns = set()
            with pytest.raises(ClusterNotFoundException) as caught:
                async for task in stream:
                    arns.add(task.task_arn)
    assert arns == staging | prod  # every other cluster's tasks came first
    assert "cluster 'nope'" in str(caught.value) and caught.value.request_id
    assert list(stream.errors) == ["nope"]


async def test_throttled_reads_stop_at_the_deadline() -> None:
    async with LocalECS(seed=7) as local:
        local.seed_tasks(10, cluster="prod")
        local.faults = Faults(throttle=1.0, operations={"ListTasks"})
        async with client_for(local, total_timeout=0.5) as ecs:
            with pytest.raises(ThrottlingException):
                await ecs.list_tasks(cluster="prod")
        async with client_for(local) as ecs:
            with pytest.raises(ThrottlingException):
                async for _ in ecs.iter_tasks(cluster="prod", deadline=0.5):
                    pass
        assert local.request_count["ListTasks"] >= 4  # retried beyond max_attempts=3
    with pytest.raises(ValueError, match="deadline"):
        ECSClient(region="us-east-1").iter_tasks(deadline=0)


async def test_write_throttled_beyond_max_attempts_is_a_throttling_exception() -> None:
    async with LocalECS(seed=8) as local:
        local.faults = Faults(throttle=1.0, operations={"CreateCluster"})
        async with client_for(local, max_attempts=2) as ecs:
            with pytest.raises(ThrottlingException, match=r"\(2 attempts\)") as caught:
                await ecs.create_cluster(cluster_name="x")
        assert caught.value.code == "ThrottlingException" and caught.value.request_id
        assert local.request_count["CreateCluster"] == 2


def test_rate_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown category 'reads'"):
        ECSClient(rate_limits={"reads": (100, 20)})
    with pytest.raises(ValueError, match="burst >= 1 and rate > 0"):
        ECSClient(rate_limits={"cluster_resource_read": (100, 0)})


# -- many account-Regions ----------------------------------------------------------------------


async def test_fleet_streams_every_account_region_once_and_reports_the_failing_one() -> None:
    async with (
        LocalECS(region="us-east-1", account_id="111111111111", seed=1) as east,
        LocalECS(region="eu-west-1", account_id="222222222222", seed=2) as west,
        LocalECS(region="ap-south-1", seed=3) as empty,
    ):
        expected = {
            *(("111111111111", "us-east-1", a) for a in east.seed_tasks(230, cluster="prod")),
            *(("222222222222", "eu-west-1", a) for a in west.seed_tasks(170, cluster="prod")),
        }
        async with (
            client_for(east) as a,
            client_for(west) as b,
            client_for(empty) as c,  # has no cluster "prod"
            iter_fleet_tasks([a, b, c], cluster="prod") as fleet,
        ):
            seen = [(t.account_id, t.region, t.task.task_arn) async for t in fleet]
        assert len(seen) == len(set(seen)) == 400 and set(seen) == expected
        assert [f.client for f in fleet.failures] == [c]
        assert isinstance(fleet.failures[0].error, ClusterNotFoundException)
        assert fleet.counts.sent == sum(sum(s.request_count.values()) for s in (east, west, empty))
    with pytest.raises(ValueError, match="twice"):
        iter_fleet_tasks([a, a], cluster="prod")


def test_a_new_pacer_starts_from_the_documented_quota_unbounded() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    assert (pacer.rate, pacer.burst, pacer.paced) == (20, 100, False)
    assert pacer.pace() == math.inf  # nothing has been throttled: no limit
    assert pacer.last_success == -math.inf  # and nothing has got through yet


def test_a_mirror_with_a_token_to_spare_lets_a_request_go_at_once() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    pacer.reserve()
    _empty(pacer, clock)  # rate 10, empty
    clock.now += 0.15  # 1.5 tokens: one is taken, 0.5 left
    assert pacer.reserve() == (0.0, clock.now)
    assert pacer.reserve()[0] == pytest.approx((1 - 0.5) / 10, abs=1e-3)


def test_a_confirmed_throttle_empties_a_mirror_that_had_tokens() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    pacer.reserve()
    _empty(pacer, clock)  # rate 10
    clock.now += 1.0
    assert pacer.reserve()[0] == 0.0  # 10 tokens in the mirror, one taken
    _empty(pacer, clock)  # ECS says empty: so is the mirror (rate halved: no successes)
    assert pacer.reserve()[0] == pytest.approx(1 / pacer.pace())


def test_one_success_after_a_lone_throttle_does_not_clear_it() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    pacer.reserve()
    pacer.throttled(clock.now)
    clock.now += 0.01
    pacer.succeeded(pacer.reserve()[1])  # one success since: not yet CONFIRM (2)
    pacer.throttled(clock.now)
    assert pacer.paced  # so this one confirms the first


def test_successes_at_the_very_instant_of_a_throttle() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    pacer.reserve()
    pacer.throttled(clock.now)  # a suspect, sent at 100.0
    pacer.succeeded(clock.now)
    pacer.succeeded(clock.now)  # sent with it, not after it: not evidence against it
    pacer.throttled(clock.now)
    assert pacer.paced and pacer.rate == 10.0  # episode at 100.0
    for _ in range(4):  # sent at the episode's instant: they count towards the next measure
        pacer.succeeded(clock.now)
    clock.now += 1.0
    _empty(pacer, clock)
    assert pacer.rate == pytest.approx(4.0)


def test_after_a_refill_the_bucket_is_measured_afresh_from_then() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    pacer.reserve()
    _empty(pacer, clock)  # rate 10, burst 50
    clock.now += 10.0
    assert pacer.reserve() == (0.0, clock.now) and not pacer.paced  # refilled, started now
    clock.now += 1.0
    for _ in range(30):
        pacer.succeeded(pacer.reserve()[1])
    clock.now += 1.0
    _empty(pacer, clock)  # 30 successes in the 2 s since the refill
    assert pacer.rate == pytest.approx(20 * 30 / (100 + 20 * 2.0))
