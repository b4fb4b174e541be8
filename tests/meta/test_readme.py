"""The README stays true: its two commands, and its example, run as written."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from aioecs.testing import LocalECS

from .._env import hermetic_environ

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block, "README has no sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_two_commands_and_ci_runs_the_second() -> None:
    main_job, tests = _commands()
    assert main_job == "pip install '.[cli]' && aioecs demo"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines(), f"{tests!r} is not a line of .ci/run"


def test_main_job_runs_without_an_aws_account(tmp_path: Path) -> None:
    command = _commands()[0].split("&&", 1)[1].split()  # ["aioecs", "demo"]
    script = Path(sys.executable).parent / command[0]
    out = subprocess.run(
        [str(script), *command[1:], "--tasks", "400"],
        cwd=tmp_path,
        env=hermetic_environ(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Fetched 400 tasks" in out.stdout
    assert "0 failures" in out.stdout


async def test_readme_example_runs_against_the_emulator(tmp_path: Path) -> None:
    (example,) = re.findall(r"```python\n(.*?)```", README, re.S)
    async with LocalECS() as local:
        local.seed_tasks(230, cluster="prod")
        env = hermetic_environ(tmp_path) | local.endpoint.env()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", example, env=env, stdout=-1, stderr=-1
        )
        stdout, stderr = await proc.communicate()
    assert proc.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert len(lines) == 231
    assert lines[-1] == "100 described, 0 failures"


def test_quickstart_example_runs_on_the_emulator(tmp_path: Path) -> None:
    env = hermetic_environ(tmp_path) | {"AIOECS_DEMO_TASKS": "400"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "local emulator" in out.stdout and "400 tasks in" in out.stdout
