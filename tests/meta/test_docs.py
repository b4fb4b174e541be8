"""The documentation builds, and what it shows works.

- `mkdocs build --strict` succeeds (broken links, bad references and docstring problems are
  errors), offline.
- Code blocks marked with an HTML comment right above them are run:
  `<!-- test: emulator -->` against a LocalECS seeded with the cluster the docs use (`prod`),
  reached through the standard environment variables, exactly as the code would reach AWS;
  `<!-- test: standalone -->` as it is; `<!-- test: pytest -->` as a pytest module;
  `<!-- test: cli -->` (a `console` block) runs its `$ ` lines as one bash script against the
  same emulator.
- Every `aioecs ...` command line anywhere in the docs parses: options exist, values are
  valid, required ones are there.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shlex
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from aioecs._cli.app import cli
from aioecs.testing import LocalECS

from .._env import hermetic_environ

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TIMEOUT = 120

_MARKED = re.compile(
    r"^(?P<indent>[ \t]*)<!-- test: (?P<kind>\w+) -->\n"
    r"(?P=indent)```(?P<lang>\w+)[^\n]*\n(?P<body>.*?)\n(?P=indent)```",
    re.M | re.S,
)
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>\w*)[^\n]*\n(?P<body>.*?)\n(?P=indent)```", re.M | re.S
)


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    kind: str
    lang: str
    code: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def _blocks() -> list[Block]:
    found = []
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in _MARKED.finditer(text):
            indent = match["indent"]
            body = "\n".join(
                line[len(indent) :] if line.startswith(indent) else line
                for line in match["body"].splitlines()
            )
            line = text.count("\n", 0, match.start()) + 1
            page = str(path.relative_to(DOCS))
            found.append(Block(page, line, match["kind"], match["lang"], textwrap.dedent(body)))
    return found


BLOCKS = _blocks()


def _of(kind: str) -> list[pytest.ParameterSet]:
    return [pytest.param(block, id=str(block)) for block in BLOCKS if block.kind == kind]


def test_blocks_are_found() -> None:
    kinds = {block.kind for block in BLOCKS}
    assert {"emulator", "standalone", "pytest", "cli"} <= kinds
    assert any(block.page == "quickstart.md" and block.kind == "emulator" for block in BLOCKS)
    assert kinds <= {"emulator", "standalone", "pytest", "cli"}, kinds


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    import subprocess

    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    client_page = (site / "api" / "client" / "index.html").read_text(encoding="utf-8")
    for member in ("iter_tasks", "describe_tasks", "wait_tasks_running", "paginate_list_tasks"):
        assert f'id="aioecs.client.ECSClient.{member}"' in client_page, member
    assert "ClusterNotFoundException" in (site / "api" / "errors" / "index.html").read_text()
    assert (site / "cli" / "index.html").is_file()


# -- running the examples ----------------------------------------------------------------------


@pytest.fixture
def child_env(tmp_path: Path) -> dict[str, str]:
    """The hermetic environment (no AWS settings of this machine), PATH with this venv first."""
    env = hermetic_environ(tmp_path)
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        NO_COLOR="1",
    )
    return env


@pytest.fixture
async def prod(child_env: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    """A LocalECS with the fleet the docs talk about; yields the env that points at it."""
    async with LocalECS(seed=5) as local:
        local.seed_tasks(250, cluster="prod", family="web", service_name="web")
        local.seed_tasks(
            40, cluster="prod", family="worker", launch_type="FARGATE", started_by="scheduler"
        )
        local.seed_tasks(30, cluster="prod", family="batch", desired_status="STOPPED")
        yield child_env | local.endpoint.env()  # AWS_ENDPOINT_URL_ECS, key, secret, region


async def _run(*argv: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run a child process without blocking the loop the emulator answers from.

    It gets a session of its own, so that whatever it started in the background is killed
    with it if it does not finish in time.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    except asyncio.TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        pytest.fail(f"{argv[:3]} did not finish in {TIMEOUT} s")
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def _needs_modules(code: str) -> None:
    for module in ("boto3", "aiobotocore"):
        if re.search(rf"^\s*(import|from) {module}\b", code, re.M) and not importlib.util.find_spec(
            module
        ):
            pytest.skip(f"{module} is not installed")


@pytest.mark.parametrize("block", _of("emulator"))
async def test_emulator_examples(block: Block, prod: dict[str, str], tmp_path: Path) -> None:
    _needs_modules(block.code)
    code, out = await _run(sys.executable, "-c", block.code, env=prod, cwd=tmp_path)
    assert code == 0, out
    assert out.strip(), "the example printed nothing"


@pytest.mark.parametrize("block", _of("standalone"))
async def test_standalone_examples(block: Block, child_env: dict[str, str], tmp_path: Path) -> None:
    _needs_modules(block.code)
    code, out = await _run(sys.executable, "-c", block.code, env=child_env, cwd=tmp_path)
    assert code == 0, out


@pytest.mark.parametrize("block", _of("pytest"))
async def test_pytest_examples(block: Block, child_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(block.code, encoding="utf-8")
    code, out = await _run(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "test_example.py",
        env=child_env,
        cwd=tmp_path,
    )
    assert code == 0, out
    assert re.search(r"\b\d+ passed\b", out) and "failed" not in out, out


@pytest.mark.parametrize("block", _of("cli"))
async def test_cli_examples(block: Block, prod: dict[str, str], tmp_path: Path) -> None:
    commands = [line[2:] for line in block.code.splitlines() if line.startswith("$ ")]
    assert commands, "a cli block without $ lines"
    script = "set -euo pipefail\n" + "\n".join(commands)
    code, out = await _run("bash", "-c", script, env=prod, cwd=tmp_path)
    assert code == 0, f"{script}\n---\n{out}"


# -- every command line parses ---------------------------------------------------------------


def _command_lines() -> list[pytest.ParameterSet]:
    found = []
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            if match["lang"] not in ("sh", "console", "bash"):
                continue
            for line in match["body"].splitlines():
                line = line.strip().removeprefix("$ ")
                if line.startswith("aioecs ") or line == "aioecs":
                    page = path.relative_to(DOCS)
                    found.append(pytest.param(line, id=f"{page}: {line[:60]}"))
    return found


@pytest.mark.parametrize("line", _command_lines())
def test_documented_command_lines_parse(line: str) -> None:
    words = []
    for word in shlex.split(line.split("|")[0].split(">")[0]):
        words.append("ARN" if word.startswith("$") else word)
    args = words[1:]
    parent = click.Context(cli, info_name="aioecs")
    try:
        if not args or args[0].startswith("-"):  # aioecs --help, aioecs --version
            cli.make_context("aioecs", args)
            return
        command = cli.get_command(parent, args[0])
        assert command is not None, f"{line!r}: no command {args[0]!r}"
        command.make_context(args[0], args[1:], parent=parent)
    except click.exceptions.Exit:  # --help
        pass
    except click.UsageError as exc:
        pytest.fail(f"{line!r}: {exc.format_message()}")


# -- every Python example type-checks ------------------------------------------------------------


def _python_blocks() -> list[tuple[str, str]]:
    """Every ```python block of the README and the docs, marked for running or not."""
    found = []
    for path in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            if match["lang"] != "python":
                continue
            indent = match["indent"]
            body = "\n".join(
                line[len(indent) :] if line.startswith(indent) else line
                for line in match["body"].splitlines()
            )
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{path.relative_to(ROOT)}:{line}", textwrap.dedent(body)))
    return found


def test_python_examples_pass_mypy_strict(tmp_path: Path) -> None:
    import subprocess

    blocks = _python_blocks()
    assert any(where.startswith("README.md") for where, _ in blocks)
    assert any(where.startswith("docs/quickstart.md") for where, _ in blocks)
    names = {}
    for index, (where, code) in enumerate(blocks):
        name = f"block_{index:02d}.py"
        (tmp_path / name).write_text(code + "\n", encoding="utf-8")
        names[name] = where
    # Third-party clients shown for comparison (migrating.md) ship no type information.
    (tmp_path / "mypy.ini").write_text(
        "[mypy]\nstrict = True\npython_version = 3.10\n"
        "[mypy-boto3.*,aiobotocore.*,botocore.*]\nignore_missing_imports = True\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--no-incremental", *names],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    report = result.stdout
    for name, where in names.items():
        report = report.replace(name, where)
    assert result.returncode == 0, report
