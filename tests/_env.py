"""A hermetic AWS environment: nothing of the machine running the tests can leak in.

One definition, two forms: the `hermetic_env` fixture (conftest.py) applies it to this process
with monkeypatch, `hermetic_environ` builds a whole environment for a child process.
"""

from __future__ import annotations

import os
from pathlib import Path


def hermetic_settings(home: Path) -> dict[str, str]:
    """What takes the place of every `AWS_*` variable: the shared config and credentials files
    in `home` (absent until a test writes them), IMDS off, and HOME there too, so botocore's
    SSO and login caches stay away from the real home directory."""
    return {
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(home),
    }


def hermetic_environ(home: Path) -> dict[str, str]:
    """This process's environment minus every `AWS_*` variable, plus `hermetic_settings`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(hermetic_settings(home))
    return env
