"""The README's two commands stay true: CI runs the same test command, and the main job runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "README has no sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_two_commands_and_ci_runs_the_second() -> None:
    main_job, tests = _readme_commands()
    assert main_job.startswith("pip install .")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines(), f"{tests!r} is not a line of .ci/run"


def test_main_job_runs_on_the_emulator_without_an_aws_account(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AIOECS_DEMO_TASKS="400",
    )
    script = _readme_commands()[0].split("&&", 1)[1].split()[1]
    out = subprocess.run(
        [sys.executable, script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "local emulator" in out.stdout
    assert "400 tasks in" in out.stdout
    assert " 300  RUNNING  service:web" in out.stdout
