"""`python -m codegen [--check] [--out DIR]`: regenerate aioecs' generated modules.

`--check` renders into a temporary directory and fails if anything differs from the
committed files, so CI proves the committed code is exactly what the pinned botocore yields.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from pathlib import Path

from . import model, render

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "aioecs"

SHAPES = "_shapes"


def _render_all(ir: model.ServiceIR) -> dict[str, str]:
    files = {
        "models.py": render.render_models(ir),
        "_wire_names.py": render.render_wire_names(ir),
        "_modeled_errors.py": render.render_errors(ir),
        "_constraints.py": render.render_constraints(ir),
        "_operations.py": render.render_operations(ir),
    }
    for name, text in render.render_shapes(ir).items():
        files[f"{SHAPES}/{name}"] = text
    return files


def generate(out_dir: Path) -> list[Path]:
    """Write every generated module into `out_dir`, formatted with ruff; return the paths.

    The shapes folder is emptied first so a shape botocore dropped leaves no stale module.
    """
    ir = model.load()
    shapes_dir = out_dir / SHAPES
    if shapes_dir.exists():
        for stale in shapes_dir.glob("*.py"):
            stale.unlink()
    shapes_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in _render_all(ir).items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    config = str(ROOT / "pyproject.toml")
    ruff = [sys.executable, "-m", "ruff"]
    files = [str(p) for p in paths]
    sort = ["check", "-q", "--fix", "--select", "I,RUF022", "--config", config]
    subprocess.run([*ruff, *sort, *files], check=False)  # exits 1 when it fixed something
    subprocess.run([*ruff, "format", "-q", "--config", config, *files], check=True)
    return paths


def check() -> list[str]:
    """Differences between a fresh generation and the committed files (empty when equal)."""
    with tempfile.TemporaryDirectory() as tmp:
        problems = []
        fresh = generate(Path(tmp))
        names = {str(p.relative_to(tmp)) for p in fresh}
        for stale in sorted((PACKAGE / SHAPES).glob("*.py")):
            if f"{SHAPES}/{stale.name}" not in names:
                problems.append(f"{stale}: not generated any more")
        for path in fresh:
            committed = PACKAGE / path.relative_to(tmp)
            new = path.read_text(encoding="utf-8")
            old = committed.read_text(encoding="utf-8") if committed.exists() else ""
            if new != old:
                diff = difflib.unified_diff(
                    old.splitlines(), new.splitlines(), str(committed), "regenerated", lineterm=""
                )
                problems.append("\n".join(list(diff)[:40]))
        return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if regenerating changes files")
    parser.add_argument("--out", type=Path, default=PACKAGE, help="output directory")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    for path in generate(args.out):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
