"""Mutation testing of aioecs's runtime core: which wrong programs the tests let pass.

    python scripts/mutation.py                   # every module in [tool.mutmut] only_mutate
    python scripts/mutation.py _retry _limits    # some of them
    python scripts/mutation.py --report          # only the table of the last results
    python scripts/mutation.py --survivors _validate   # only the last run's survivors, again

Runs mutmut (the `test` extra pins it; configured in pyproject.toml's [tool.mutmut]: the six
modules, the fast test files that reach them, each mutant in a process forked from mutmut's
with `_validate`'s caches cleared by tests/conftest.py). A run of some modules runs only their
own test files (TESTS below) and keeps its verdicts in `mutants/results-<module>.json`.
mutmut works in a copy of the tree, `mutants/` (git-ignored, skipped by pytest and ruff).
Then it prints, per module, mutants, killed (a test failed or timed out) and score, and the
names of the survivors; read one with `mutmut show NAME`. Expect minutes per module on two
cores; run one module at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("_retry", "_fanout", "_validate", "_protocol", "_limits", "_pipeline")
# Seconds a test may run before it counts as hung (the mutant is then killed): the fan-out's
# tests take a few seconds at most, and a mutant that stops its pipeline hangs them; the
# validation, protocol and quota tests under four seconds each.
TIMEOUT = {"_fanout": 10, "_validate": 20, "_protocol": 20, "_limits": 20, "_pipeline": 20}
# The test files that state each module's behaviour; a run of one module runs only those
# (tests/conftest.py deselects the rest of [tool.mutmut]'s selection), so that a mutant of
# `_validate` is not judged by every fan-out test that happens to send a request.
TESTS = {
    "_retry": ("test_retries.py", "test_errors.py", "test_quota.py"),
    "_fanout": ("test_fanout.py",),
    "_validate": ("test_validation.py",),
    "_protocol": ("test_protocol_conformance.py", "test_errors.py", "test_validation.py"),
    "_limits": ("test_quota.py",),
    "_pipeline": (
        "test_retries.py",
        "test_quota.py",
        "test_errors.py",
        "test_observability.py",
        "test_throttled_calls.py",
        "test_deadlines_and_closing.py",
    ),
}
KILLED = {1, 3, 36, -24, 24, 152, 255}  # a failing test; mutmut's timeout exit codes
SURVIVED = {0, 33, 5}  # tests passed; no test reached it; no test collected


def _meta(module: str) -> Path:
    return ROOT / "mutants" / "src" / "aioecs" / f"{module}.py.meta"


def _results(module: str) -> Path:
    return ROOT / "mutants" / f"results-{module}.json"


def record(module: str) -> None:
    """Keep what a run decided: mutmut forgets the verdicts of every module but the one it
    ran (it regenerates the mutants of all of them), and a `--survivors` run decides only a
    few."""
    if not _meta(module).exists():
        return
    codes = json.loads(_meta(module).read_text())["exit_code_by_key"]
    kept = json.loads(_results(module).read_text()) if _results(module).exists() else {}
    kept = {name: kept.get(name) for name in codes}  # mutants that no longer exist go
    kept.update({name: code for name, code in codes.items() if code is not None})
    _results(module).write_text(json.dumps(kept, indent=0, sort_keys=True))


def results(module: str) -> dict[str, int | None] | None:
    if _results(module).exists():
        kept: dict[str, int | None] = json.loads(_results(module).read_text())
        return kept
    if _meta(module).exists():
        codes: dict[str, int | None] = json.loads(_meta(module).read_text())["exit_code_by_key"]
        return codes
    return None


def report(modules: list[str]) -> int:
    print(f"{'module':<22}{'mutants':>8}{'killed':>8}{'score':>8}")
    worst = 100.0
    for module in modules:
        codes = results(module)
        if codes is None:
            print(f"{module:<22}  not run")
            continue
        done = {name: code for name, code in codes.items() if code is not None}
        killed = sum(code in KILLED for code in done.values())
        score = 100.0 * killed / len(done) if done else 0.0
        worst = min(worst, score)
        pending = len(codes) - len(done)
        note = f"  ({pending} not run yet)" if pending else ""
        print(f"{module + '.py':<22}{len(done):>8}{killed:>8}{score:>7.0f}%{note}")
        for name, code in sorted(done.items()):
            if code in SURVIVED:
                print(f"    survived: {name}" + (" (no test reached it)" if code == 33 else ""))
    return 0 if worst >= 85.0 else 1


def survivors(module: str) -> list[str]:
    """The mutants of `module` that the last run let through (after tests were added, only
    these can change: a mutant that a test killed stays killed)."""
    codes = results(module) or {}
    return sorted(name for name, code in codes.items() if code in SURVIVED)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULES))
    parser.add_argument("--report", action="store_true", help="print the last results only")
    parser.add_argument(
        "--survivors", action="store_true", help="run only the last run's survivors again"
    )
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    args = parser.parse_args()
    modules = args.modules or list(MODULES)
    unknown = sorted(set(modules) - set(MODULES))
    if unknown:
        parser.error(f"not a module under mutation testing: {', '.join(unknown)}")
    if not args.report:
        mutmut = Path(sys.executable).with_name("mutmut")
        names = [f"aioecs.{module}.*" for module in modules]
        if not args.survivors:
            # Which tests reach which function, measured afresh with this run's tests (mutmut
            # keeps it across runs, and would miss a module newly added to only_mutate).
            (ROOT / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
        if args.survivors:
            names = [name for module in modules for name in survivors(module)]
            if not names:
                return report(modules)
        tests = sorted({name for module in modules for name in TESTS[module]})
        env = {
            **os.environ,
            "PYTHONPATH": "",  # mutmut puts mutants/src first itself
            "AIOECS_MUTATION_TESTS": ",".join(tests),
            "PYTEST_TIMEOUT": str(min(TIMEOUT.get(module, 60) for module in modules)),
        }
        command = [str(mutmut), "run", "--max-children", str(args.jobs), *names]
        subprocess.run(command, cwd=ROOT, env=env, check=False)
        for module in modules:
            record(module)
    return report(modules)


if __name__ == "__main__":
    sys.exit(main())
