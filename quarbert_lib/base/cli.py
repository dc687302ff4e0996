"""Command-line entry points: a user's mistake prints one line and exits 2.

A missing data folder, a malformed CSV row, a bad config value, an encoder that cannot be loaded
or a run that does not exist yet are the user's to fix: each prints ``error: <what, where, the
fix>`` on one line. ``--debug`` (anywhere on the command line) or ``QUARBERT_DEBUG=1`` shows the
traceback instead. Anything else is a programming error and raises as usual.
"""
from __future__ import annotations

import os
import sys
from typing import Callable

from .errors import UserError

DEBUG_ENV = "QUARBERT_DEBUG"


def user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions printed as one line: every UserError (config, data, encoder, missing run, nothing to
    train, course output, notebook parameter, Chromium), whichever module raises it."""
    return (UserError,)


def run(main: Callable[[list[str]], int], argv: list[str] | None = None) -> int:
    """``main(argv)``'s exit code; 2 with one line on standard error for a user error."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        return main(argv)
    except user_errors() as e:
        if debug:
            raise
        print(f"error: {' '.join(str(e).split())} (--debug or {DEBUG_ENV}=1 shows the traceback)", file=sys.stderr)
        return 2
