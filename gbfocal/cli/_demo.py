"""``gbfocal demo``: the breast-cancer demo of :mod:`gbfocal.demo`, from the shell.

Its options are :func:`gbfocal.demo.add_arguments`' (added by the parser); this module
checks them in the command line's words and runs the demo, whose libraries are imported
only then. Separate so that the command modules of ``tune``, ``train`` and ``predict`` stay
free of the demo, and the demo's wiring is in one place.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._messages import CLIError

__all__ = ["command_demo"]


def command_demo(args: argparse.Namespace) -> int:
    """``gbfocal demo``: run the demo; returns the exit status."""
    from .. import demo  # imports its libraries when it runs

    if args.trials < 1:
        raise CLIError(f"--trials must be at least 1, got {args.trials}")
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise CLIError(f"--output {args.output}: not a folder")
    demo.run(trials=args.trials, backend=args.backend, seed=args.seed, output=output)
    return 0
