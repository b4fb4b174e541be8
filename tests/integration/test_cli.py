"""The `aioecs` command, run for real: a subprocess talking to a LocalECS in the test's loop.

The subprocess is awaited with `asyncio.create_subprocess_exec`, so the emulator (which
answers from this event loop) keeps serving while the command runs. Credentials come the
way a user would give them, through `AWS_*` environment variables, and the endpoint through
`--endpoint-url`; the environment is otherwise scrubbed of AWS settings, so nothing on the
machine running the tests can leak in.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pty
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from aioecs import models as m
from aioecs import serde
from aioecs._cli.emulator import fleet_counts
from aioecs._cli.output import iso, parse_fields, plain
from aioecs.testing import LocalECS

from ..servers import client_for

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TIMEOUT = 60


@dataclass
class Result:
    code: int
    out: str
    err: str

    def lines(self) -> list[str]:
        return self.out.splitlines()

    def objects(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.lines()]


@pytest.fixture
def aws_env(hermetic_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS settings from this machine (conftest's `hermetic_env`), and no colours."""
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
async def local(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=11) as server:
        key, secret = server.credentials
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        monkeypatch.setenv("AWS_REGION", server.region)
        yield server


async def aioecs(*args: str, stderr: int | None = None) -> Result:
    """`python -m aioecs.cli ARGS` in a child process, awaited without blocking the loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aioecs.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if stderr is None else stderr,
        env=dict(os.environ),
    )
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), (err or b"").decode())


async def at(local: LocalECS, *args: str) -> Result:
    """The command pointed at `local` with --endpoint-url."""
    return await aioecs(*args, "--endpoint-url", local.endpoint_url)


# -- tasks ---------------------------------------------------------------------------------


async def test_jsonl_emits_exactly_the_seeded_tasks(local: LocalECS) -> None:
    seeded = local.seed_tasks(250, cluster="prod", family="web", service_name="web")
    local.seed_tasks(30, cluster="prod", family="batch", desired_status="STOPPED")
    local.seed_tasks(20, cluster="other", family="web")

    result = await at(local, "tasks", "--cluster", "prod", "--format", "jsonl")

    assert result.code == 0, result.err
    assert result.err == ""  # stderr is not a terminal: no progress line
    tasks = result.objects()
    arns = [task["task_arn"] for task in tasks]
    assert len(arns) == len(set(arns)) == 250
    assert set(arns) == set(seeded)
    first = tasks[0]
    assert first["last_status"] == first["desired_status"] == "RUNNING"
    assert first["group"] == "service:web"
    assert all(ISO_MS.match(str(task["created_at"])) for task in tasks)
    assert not any(key[0].isupper() or any(c.isupper() for c in key) for key in first)


async def test_jsonl_lines_read_back_with_from_dict(local: LocalECS) -> None:
    seeded = local.seed_tasks(5, cluster="prod", family="web", service_name="web")
    result = await at(local, "tasks", "--cluster", "prod", "--format", "jsonl", "--include-tags")
    assert result.code == 0, result.err
    async with client_for(local) as ecs:
        described = await ecs.describe_tasks(cluster="prod", tasks=seeded, include=["TAGS"])
    expected = {task.task_arn: task for task in described.tasks}
    tasks = [serde.from_dict(m.Task, json.loads(line)) for line in result.lines()]
    assert len(tasks) == 5 and all(task == expected[task.task_arn] for task in tasks)


async def test_filters(local: LocalECS) -> None:
    web = local.seed_tasks(120, cluster="prod", family="web", service_name="web")
    worker = local.seed_tasks(
        15, cluster="prod", family="worker", launch_type="FARGATE", started_by="scheduler"
    )
    stopped = local.seed_tasks(12, cluster="prod", family="batch", desired_status="STOPPED")
    other = local.seed_tasks(7, cluster="other", family="web")

    async def arns(*args: str) -> set[str]:
        result = await at(local, "tasks", "--format", "jsonl", "--fields", "task_arn", *args)
        assert result.code == 0, result.err
        return {str(task["task_arn"]) for task in result.objects()}

    assert await arns("--cluster", "prod", "--family", "worker") == set(worker)
    assert await arns("--cluster", "prod", "--service", "web") == set(web)
    assert await arns("--cluster", "prod", "--started-by", "scheduler") == set(worker)
    assert await arns("--cluster", "prod", "--launch-type", "fargate") == set(worker)
    assert await arns("--cluster", "prod", "--status", "STOPPED") == set(stopped)
    assert await arns("--cluster", "prod", "--cluster", "other") == {*web, *worker, *other}
    assert await arns("--all-clusters") == {*web, *worker, *other}


async def test_wire_names_match_the_api_and_timestamps_are_iso(local: LocalECS) -> None:
    (arn,) = local.seed_tasks(1, cluster="prod", family="web", tags={"team": "core"})

    result = await at(
        local, "tasks", "--cluster", "prod", "--format", "jsonl", "--wire-names", "--include-tags"
    )

    assert result.code == 0, result.err
    (task,) = result.objects()
    wire = serde.encode(serde.decode(m.Task, local.describe_task(arn)))
    assert task.keys() == wire.keys()
    assert task["tags"] == [{"key": "team", "value": "core"}]
    created = datetime.fromtimestamp(wire["createdAt"], timezone.utc)
    assert task["createdAt"] == iso(created)
    assert ISO_MS.match(str(task["createdAt"]))


async def test_csv_with_fields(local: LocalECS) -> None:
    seeded = local.seed_tasks(30, cluster="prod", family="web")

    result = await at(
        local,
        "tasks",
        "--cluster",
        "prod",
        "--format",
        "csv",
        "--fields",
        "task_arn,lastStatus,created_at,containers",
    )

    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert list(rows[0]) == ["task_arn", "last_status", "created_at", "containers"]
    assert {row["task_arn"] for row in rows} == set(seeded)
    assert {row["last_status"] for row in rows} == {"RUNNING"}
    assert all(ISO_MS.match(row["created_at"]) for row in rows)
    assert json.loads(rows[0]["containers"])[0]["name"] == "web"


async def test_json_is_one_array(local: LocalECS) -> None:
    seeded = local.seed_tasks(5, cluster="prod")

    result = await at(local, "tasks", "--cluster", "prod", "--format", "json")

    assert result.code == 0, result.err
    tasks = json.loads(result.out)
    assert sorted(task["task_arn"] for task in tasks) == sorted(seeded)


async def test_table_renders(local: LocalECS) -> None:
    seeded = local.seed_tasks(3, cluster="prod", family="web", service_name="web")

    result = await at(local, "tasks", "--cluster", "prod")

    assert result.code == 0, result.err
    assert result.lines()[0] == "3 tasks"
    for arn in seeded:
        assert arn.rsplit("/", 1)[1] in result.out  # the task id, not the whole ARN
    assert "web:1" in result.out and "service:web" in result.out
    assert re.search(r"│ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d │ \d+s ago │", result.out)


async def test_progress_only_on_a_terminal(local: LocalECS) -> None:
    local.seed_tasks(300, cluster="prod")
    local.latency_ms = 100  # 4 round trips: long enough for the live line to be drawn
    leader, follower = pty.openpty()
    try:
        result = await at_with_stderr(local, follower, "tasks", "--cluster", "prod")
        os.close(follower)
        follower = -1
        shown = _drain(leader)
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert result.code == 0
    live = r"\r\x1b\[2K[\d,]+ tasks  [\d,]+ tasks/s  \d+ requests, 0 throttled, 0 retried"
    assert re.search(live, shown), shown
    summary = r"300 tasks in [\d.]+ s \([\d,]+ tasks/s\); 6 requests, 0 throttled, 0 retried\r?\n"
    assert re.search(summary, shown), shown
    assert "300 tasks" in result.out and "tasks/s" not in result.out


async def at_with_stderr(local: LocalECS, stderr: int, *args: str) -> Result:
    return await aioecs(*args, "--endpoint-url", local.endpoint_url, stderr=stderr)


def _drain(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed and everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


async def test_broken_pipe_is_quiet(local: LocalECS) -> None:
    local.seed_tasks(400, cluster="prod")  # far more than a pipe buffer holds
    script = (
        f"set -o pipefail; {sys.executable} -m aioecs.cli tasks --cluster prod "
        f"--format jsonl --endpoint-url {local.endpoint_url} | head -2"
    )
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 0, err.decode()
    assert err == b""
    assert len(out.decode().splitlines()) == 2


# -- errors and usage ------------------------------------------------------------------------


async def test_api_error_is_one_line_and_exit_1(local: LocalECS) -> None:
    result = await at(local, "tasks", "--cluster", "nope", "--format", "jsonl")

    assert result.code == 1
    assert result.out == ""
    assert re.fullmatch(
        r"error: ClusterNotFoundException: cluster 'nope': Cluster not found\. "
        r"\(request id [0-9a-f-]{36}\)\n",
        result.err,
    ), result.err


async def test_an_error_with_nothing_listed_prints_no_empty_table(local: LocalECS) -> None:
    for fmt in ("table", "json", "csv"):
        result = await at(local, "tasks", "--cluster", "nope", "--format", fmt)
        assert (result.code, result.out) == (1, ""), result.out  # no "0 tasks", no header
        assert result.err.startswith("error: ClusterNotFoundException")


async def test_plain_http_to_another_host_warns_unless_allowed(local: LocalECS) -> None:
    # 0.0.0.0 reaches this machine's listener but is not a loopback address.
    port = local.endpoint_url.rsplit(":", 1)[1]
    url = f"http://0.0.0.0:{port}"
    local.seed_tasks(2, cluster="prod")
    warned = await aioecs("tasks", "--cluster", "prod", "--format", "jsonl", "--endpoint-url", url)
    assert (warned.code, len(warned.lines())) == (0, 2), warned.err
    assert "allow_http" in warned.err and "0.0.0.0" in warned.err
    allowed = await aioecs(
        "tasks", "--cluster", "prod", "--format", "jsonl", "--endpoint-url", url, "--allow-http"
    )
    assert (allowed.code, len(allowed.lines()), allowed.err) == (0, 2, "")
    helped = await aioecs("tasks", "--help")
    assert "--allow-http" in helped.out and "only to loopback" not in helped.out


async def test_watch_state_survives_ctrl_c(local: LocalECS, tmp_path: Path) -> None:
    from aioecs import TaskChange, TaskWatch

    state = tmp_path / "watch.state"
    fleet = local.seed_tasks(30, cluster="prod")
    argv = ["watch", "--cluster", "prod", "--interval", "0.05", "--format", "jsonl"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aioecs.cli", *argv, "--state", str(state),
        "--endpoint-url", local.endpoint_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ),
    )  # fmt: skip
    assert proc.stdout is not None
    printed = []
    while len(printed) < len(fleet):
        line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
        printed.append(json.loads(line)["task_arn"])
    proc.send_signal(signal.SIGINT)  # Ctrl-C, right after the last change was printed
    _, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 0, err.decode()
    assert sorted(printed) == sorted(fleet)

    # Resumed from the file: only what happened since.
    new = local.seed_tasks(1, cluster="prod")
    swept = asyncio.Event()
    changes: list[TaskChange] = []

    def ended(watch: TaskWatch) -> None:
        swept.set()

    async with client_for(local) as ecs:
        watch = ecs.watch_tasks(cluster="prod", interval=0.05, state_file=state, on_sweep=ended)

        async def consume() -> None:
            async for change in watch:
                changes.append(change)

        consumer = asyncio.ensure_future(consume())
        await asyncio.wait_for(swept.wait(), TIMEOUT)
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
    assert [(c.kind, c.task.task_arn) for c in changes] == [("added", new[0])]


async def test_missing_credentials_is_one_line(aws_env: None) -> None:
    result = await aioecs("tasks", "--region", "us-east-1")

    assert result.code == 1
    assert result.err.startswith("error: Unable to locate AWS credentials")
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


async def test_missing_region_is_one_line(aws_env: None) -> None:
    result = await aioecs("tasks")

    assert result.code == 1
    assert result.err.startswith("error: no AWS region: pass --region")
    assert result.err.count("\n") == 1


async def test_unreachable_endpoint_is_one_line(local: LocalECS) -> None:
    result = await aioecs("tasks", "--endpoint-url", "http://127.0.0.1:9", "--max-attempts", "1")

    assert result.code == 1
    assert result.err.startswith("error: ConnectError: ")
    assert result.err.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["tasks", "--bogus"],
        ["tasks", "--cluster", "a", "--all-clusters"],
        ["tasks", "--status", "PENDING"],
        ["tasks", "--format", "xml"],
        ["tasks", "--fields", "task_arn,nope"],
        ["describe"],
        ["start", "--task-definition", "web"],
        ["nope"],
    ],
)
async def test_usage_errors_exit_2(aws_env: None, args: list[str]) -> None:
    result = await aioecs(*args)

    assert result.code == 2, result.err
    assert "Usage:" in result.err or "Error:" in result.err
    assert "Traceback" not in result.err


async def test_help_and_version(aws_env: None) -> None:
    result = await aioecs("--help")
    assert result.code == 0
    assert all(name in result.out for name in ("tasks", "describe", "start", "demo"))
    result = await aioecs("--version")
    assert result.code == 0 and result.out.startswith("aioecs, version ")


# -- describe and start ----------------------------------------------------------------------


async def test_describe(local: LocalECS) -> None:
    arns = local.seed_tasks(3, cluster="prod", family="web")
    gone = arns[0].rsplit("/", 1)[0] + "/" + "0" * 32

    ok = await at(local, "describe", "--cluster", "prod", *arns, "--format", "jsonl")
    assert ok.code == 0, ok.err
    assert [task["task_arn"] for task in ok.objects()] == arns

    partial = await at(local, "describe", "--cluster", "prod", arns[1], gone, "--format", "jsonl")
    assert partial.code == 1
    assert [task["task_arn"] for task in partial.objects()] == [arns[1]]
    assert partial.err.splitlines() == [
        f"error: {gone}: MISSING",
        "error: 1 of 2 tasks not described",
    ]


async def test_start_wait(local: LocalECS) -> None:
    local.state.pending_seconds = 0.6  # so that --wait has to poll
    (seeded,) = local.seed_tasks(1, cluster="prod", family="web")
    instance = local.describe_task(seeded)["containerInstanceArn"]

    result = await at(
        local,
        "start",
        "--cluster",
        "prod",
        "--task-definition",
        "web",
        "--container-instance",
        instance,
        "--started-by",
        "cli-test",
        "--wait",
        "--poll-interval",
        "0.2",
        "--format",
        "jsonl",
    )

    assert result.code == 0, result.err
    (task,) = result.objects()
    assert task["last_status"] == "RUNNING"
    assert task["started_by"] == "cli-test"
    assert task["container_instance_arn"] == instance
    assert local.request_count["DescribeTasks"] >= 2  # it did wait


async def test_start_on_a_missing_instance(local: LocalECS) -> None:
    local.seed_tasks(1, cluster="prod", family="web")
    missing = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/" + "0" * 32

    result = await at(
        local, "start", "--cluster", "prod", "--task-definition", "web",
        "--container-instance", missing, "--format", "jsonl",
    )  # fmt: skip

    assert result.code == 1
    assert result.out == ""
    assert result.err.splitlines() == [
        f"error: {missing}: MISSING",
        "error: 1 of 1 tasks did not start",
    ]


# -- demo ------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["child process", "in process"])
async def test_demo(aws_env: None, where: str) -> None:
    args = ["demo", "--tasks", "300", "--latency-ms", "5"]
    result = await aioecs(*args, *(["--in-process"] if where == "in process" else []))

    assert result.code == 0, result.err
    out = result.out
    assert "seeded 300 tasks in cluster demo" in out
    assert "separate process" in out if where == "child process" else "in this process" in out
    for family, status, count in fleet_counts(300):
        running = count if status == "RUNNING" else 0
        row = rf"│ {family}\s+│\s+{running:,} │\s+{count - running:,} │\s+{count:,} │\s+{count:,} │"
        assert re.search(row, out), (row, out)
    running = sum(n for _, status, n in fleet_counts(300) if status == "RUNNING")
    assert re.search(rf"│ all\s+│\s+{running} │\s+{300 - running} │\s+300 │\s+300 │", out)
    assert "Fetched 300 tasks" in out and "0 failures" in out
    floor = (-(-running // 100) + 1) * 5 / 1000
    assert f"(ceil({running}/100) + 1) × 5 ms = {floor:.3f} s" in out
    # It ends with a job: five tasks, the third failing, each sidecar stopped with 143.
    assert re.search(r"exited +report=1 log-router=143", out), out
    assert "Job failed: 4 of 5 tasks succeeded" in out


# -- packaging of the command ----------------------------------------------------------------


async def test_library_import_does_not_load_the_cli_dependencies() -> None:
    code = "import sys, aioecs, aioecs.client; print('click' in sys.modules, 'rich' in sys.modules)"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert out.decode().split() == ["False", "False"]


async def test_without_click_one_clear_line() -> None:
    code = (
        "import sys; sys.modules['click'] = None; sys.argv = ['aioecs', 'tasks']; "
        "from aioecs.cli import main; main()"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    assert proc.returncode == 1
    assert err.decode() == "error: the aioecs command needs click: pip install 'aioecs[cli]'\n"


# -- output helpers, in process ----------------------------------------------------------------


def test_plain_names_and_values() -> None:
    task = m.Task(
        task_arn="arn:t",
        last_status="RUNNING",
        created_at=datetime(2024, 5, 1, 12, 0, 3, 250000, tzinfo=timezone.utc),
        containers=[m.Container(name="web", exit_code=0)],
    )
    assert plain(task) == {
        "containers": [{"name": "web", "exit_code": 0}],
        "created_at": "2024-05-01T12:00:03.250Z",
        "last_status": "RUNNING",
        "task_arn": "arn:t",
    }
    wire = plain(task, wire=True)
    assert wire.keys() == serde.encode(task).keys()
    assert wire["containers"] == [{"name": "web", "exitCode": 0}]


def test_parse_fields() -> None:
    assert parse_fields("task_arn, lastStatus") == ["task_arn", "last_status"]
    with pytest.raises(ValueError, match="unknown task field"):
        parse_fields("task_arn,nope")


def test_console_script_entry_point() -> None:
    from importlib.metadata import entry_points

    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "aioecs"]
    assert script.value == "aioecs.cli:main"
