"""`python -m build` makes a wheel that installs and imports cleanly, typed."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_builds_installs_and_imports(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("aioecs-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "aioecs/py.typed" in names
    assert "aioecs/_generated/shapes/task.py" in names
    assert not any(n.startswith(("tests/", "codegen/")) for n in names)
    # The pytest plugin is opt-in: no pytest11 entry point loads it into every project's runs.
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "pytest11" not in zipfile.ZipFile(wheel).read(entry_points).decode()

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    probe = (
        "import aioecs, aioecs.models as m, aioecs.errors as e;"
        f"assert aioecs.__file__.startswith({str(target)!r}), aioecs.__file__;"
        "print(m.Task.__name__, e.ClusterNotFoundException.__mro__[1].__name__)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Task", "ECSError"]
