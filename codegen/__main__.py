"""`python -m codegen [--check] [--out DIR]`: regenerate `src/aioecs/_generated/`.

`--check` renders into a temporary directory and fails if anything differs from the
committed folder, a stale extra file included, so CI proves the committed code is exactly
what the pinned botocore yields.
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
GENERATED = PACKAGE / "_generated"
"""The folder codegen owns whole: it writes every file in it and removes any other."""


def _render_all(ir: model.ServiceIR) -> dict[str, str]:
    files = {
        "__init__.py": render.render_package(ir),
        "enums.py": render.render_enums(ir),
        "models.py": render.render_models(ir),
        "errors.py": render.render_errors(ir),
        "operations.py": render.render_operations(ir),
    }
    for name, text in render.render_shapes(ir).items():
        files[f"shapes/{name}"] = text
    return files


def _files(folder: Path) -> set[str]:
    """Every file under `folder` (bytecode caches aside), as paths relative to it."""
    if not folder.exists():
        return set()
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def generate(out_dir: Path) -> list[Path]:
    """Write every generated module into `out_dir`, formatted with ruff; return the paths.

    Files in `out_dir` that are not generated any more (a shape botocore dropped) are removed.
    """
    ir = model.load()
    rendered = _render_all(ir)
    for stale in sorted(_files(out_dir) - set(rendered)):
        (out_dir / stale).unlink()
    paths = []
    for name, text in rendered.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    config = str(ROOT / "pyproject.toml")
    ruff = [sys.executable, "-m", "ruff"]
    files = [str(p) for p in paths]
    sort = ["check", "-q", "--fix", "--select", "I,RUF022", "--config", config]
    subprocess.run([*ruff, *sort, *files], check=False)  # exits 1 when it fixed something
    subprocess.run([*ruff, "format", "-q", "--config", config, *files], check=True)
    return paths


def check(committed: Path = GENERATED) -> list[str]:
    """Differences between a fresh generation and the committed folder (empty when equal):
    a file that differs, is missing, or is there but not generated any more."""
    with tempfile.TemporaryDirectory() as tmp:
        problems = []
        fresh = generate(Path(tmp))
        names = {p.relative_to(tmp).as_posix() for p in fresh}
        for stale in sorted(_files(committed) - names):
            problems.append(f"{committed / stale}: not generated any more")
        for path in fresh:
            old_path = committed / path.relative_to(tmp)
            new = path.read_text(encoding="utf-8")
            old = old_path.read_text(encoding="utf-8") if old_path.exists() else ""
            if new != old:
                diff = difflib.unified_diff(
                    old.splitlines(), new.splitlines(), str(old_path), "regenerated", lineterm=""
                )
                problems.append("\n".join(list(diff)[:40]))
        return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if regenerating changes files")
    parser.add_argument(
        "--out",
        type=Path,
        default=GENERATED,
        help="output folder (default: src/aioecs/_generated), emptied of anything not generated",
    )
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
