"""The `aioecs` command (console script `aioecs = "aioecs.cli:main"`).

click and rich come with the `cli` extra, not with the library: `import aioecs` never
imports them, and this module only does inside `main()`, so that a missing extra is one
clear line instead of an ImportError traceback. The commands live in `aioecs._cli`.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

INSTALL_HINT = "pip install 'aioecs[cli]'"


def main(argv: list[str] | None = None) -> None:
    """Run the command line; exits with 0 (success), 1 (AWS or config error) or 2 (usage)."""
    try:
        import click  # noqa: F401
        import rich  # noqa: F401  (light: the package itself imports next to nothing)
    except ImportError as exc:
        sys.stderr.write(f"error: the aioecs command needs {exc.name or 'click and rich'}: ")
        sys.stderr.write(f"{INSTALL_HINT}\n")
        raise SystemExit(1) from None
    from ._cli.app import cli

    cli.main(args=argv, prog_name="aioecs")


if __name__ == "__main__":
    main()
