"""Test tooling for aioecs users and our own suites.

:class:`LocalECS` is a small in-memory emulator of the ECS task API served over the real wire
protocol on loopback. It does not use the aioecs client in any way, so it can judge it.
"""

from ._server import LocalECS

__all__ = ["LocalECS"]
