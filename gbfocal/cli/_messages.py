"""How the commands speak to the user: one-line errors, notes on stderr, plain JSON values.

Every other module of the command line reports through these, so the wording rules live in
one place: a user error is a :class:`CLIError` that :func:`gbfocal.cli.main` prints as one
``gbfocal: error: ...`` line (never a traceback), what runs and what was chosen is a
``gbfocal: ...`` note on stderr (stdout stays for the result), and values shown or saved
(the result JSON, a model file's metadata, a label in a message) are plain JSON types.
Separate because every command module needs them and they need nothing of gbfocal.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["CLIError", "note", "to_json"]


class CLIError(Exception):
    """A user error reported as one line, without a traceback."""


def note(text: str) -> None:
    """Say ``text`` on stderr as ``gbfocal: <text>``."""
    print(f"gbfocal: {text}", file=sys.stderr)


def to_json(value: Any) -> Any:
    """Plain JSON types (NumPy scalars and arrays included)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value
