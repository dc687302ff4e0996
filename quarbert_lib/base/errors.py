"""The one base class of a user's mistake (the lowest room: it imports nothing).

A missing data folder, a malformed row, a bad config value, an unknown notebook parameter, a run that does
not exist yet, nothing to train: each error class of these kinds also derives from UserError, so the command
line (cli.run) prints it as one line, ``error: <what, where, the fix>``, without knowing the modules that
raise them.
"""


class UserError(Exception):
    """An error the user fixes (a path, a row, a value): printed as one line, never a traceback."""
