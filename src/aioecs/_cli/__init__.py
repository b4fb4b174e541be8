"""The `aioecs` command's implementation; `aioecs.cli.main` is the entry point.

Only `emulator` may be imported without the `cli` extra (it is what `aioecs demo` runs in a
child process); everything else here needs click, and rich for tables.
"""
