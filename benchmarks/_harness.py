"""What every benchmark script shares: one measurement per fresh subprocess, medians, tables.

Each client runs in its own interpreter so that its imports, caches and peak RSS are its own
and nothing a previous client warmed up is reused. The child measures itself (``Meter``) and
prints one JSON line; the parent (``run_child``) collects it. Only the standard library is
imported here, so a child pays for exactly the client library it measures.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "
"""Marks the child's result line, so stray prints from libraries cannot be mistaken for it."""


def peak_rss_mib() -> float:
    """Peak resident set size of this process image so far.

    On Linux this is ``VmHWM``, not ``ru_maxrss``: the kernel carries ``ru_maxrss`` over
    ``execve``, so a child started by a parent holding 500 MiB reports a 500 MiB peak before
    it has run a line (the parent's peak at the fork). ``VmHWM`` belongs to the new image.
    Elsewhere ``ru_maxrss`` (KiB on Linux-likes) is the best there is.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def arn_checksum(arns: Iterable[str]) -> str:
    """Sum of the ARNs' 128-bit hashes, modulo 2**128: order-independent and incremental, so
    a client can check it saw each ARN once while keeping none of them (a task missed or
    yielded twice changes it)."""
    total = 0
    for arn in arns:
        total += int.from_bytes(hashlib.blake2b(arn.encode(), digest_size=16).digest(), "big")
    return f"{total % 2**128:032x}"


def arn_digest(arns: Iterable[str]) -> str:
    """An order-independent fingerprint of a set of ARNs, to check a client saw the right ones
    without shipping 10,000 ARNs between processes."""
    return hashlib.sha256("\n".join(sorted(arns)).encode()).hexdigest()


class Meter:
    """Wall and CPU time of one phase (``with meter:``), and the process's peak RSS.

    CPU is ``time.process_time()``: every thread of this process, so work a client pushes to
    a thread pool still counts. ``rss_before_mib`` is the peak at the start of the phase, so
    ``peak - before`` is what the phase itself added.
    """

    def __init__(self) -> None:
        self.wall_s = self.cpu_s = self.rss_before_mib = 0.0
        self._wall = self._cpu = 0.0

    def __enter__(self) -> Meter:
        self.rss_before_mib = peak_rss_mib()
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.cpu_s = time.process_time() - self._cpu

    def result(self) -> dict[str, float]:
        return {
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "rss_peak_mib": peak_rss_mib(),
            "rss_before_mib": self.rss_before_mib,
        }


def emit(result: Mapping[str, Any]) -> None:
    """Hand the child's result to the parent (the last thing a child prints)."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def child_env() -> dict[str, str]:
    """The environment for children: no AWS profile, config file or instance metadata, so
    every client uses exactly the endpoint, region and credentials it is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def run_child(
    script: Path, args: Sequence[str], *, label: str, timeout: float = 300.0
) -> dict[str, Any]:
    """Run ``python <script> <args>`` in a fresh interpreter and return the result it emits.

    Anything the child writes to stderr (warnings, tracebacks) is echoed with a prefix: a
    benchmark that hides a client's warnings hides bugs. A failing child fails the benchmark.
    ResourceWarning is turned on: it is free until something leaks, and then worth seeing.
    """
    cmd = [sys.executable, "-W", "default::ResourceWarning", str(script), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env())
    for line in proc.stderr.splitlines():
        print(f"    [{label} stderr] {line}", file=sys.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"child {label!r} exited with {proc.returncode}")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    raise RuntimeError(f"child {label!r} printed no result:\n{proc.stdout}")


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            row[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


class LineServer:
    """A helper process that prints one line when ready, then answers one line per line
    written to its stdin, and exits at the end of its input: the benchmarks' LocalECS."""

    def __init__(self, argv: Sequence[str]) -> None:
        self._argv = list(argv)
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> str:
        """Start it; its ready line."""
        self._proc = subprocess.Popen(
            [sys.executable, *self._argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        return self._readline()

    def ask(self, line: str) -> str:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()
        return self._readline()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()  # end of input: the server closes and exits
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def _readline(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"server process exited with {self._proc.wait()}")
        return line
