"""Every folder listed in the reverse of the file system's order: tests/other_machine.py's listing half.

Imported by a sitecustomize at a notebook kernel's start-up, so it imports nothing but ``os``: a module imported
that early changes what it finds (pandas imported before IPython picks a terminal's display defaults, and the
executed notebooks' text tables come out cut to another width).
"""
import os


class _Listed:
    """What os.scandir returns (an iterator and a context manager), over entries already listed."""

    def __init__(self, entries: list):
        self._entries = iter(entries)

    def __iter__(self):
        return self._entries

    def __next__(self):
        return next(self._entries)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass


def reversed_functions(listdir=os.listdir, scandir=os.scandir):
    """os.listdir and os.scandir that list in the reverse of the file system's order."""
    def reversed_listdir(path="."):
        return listdir(path)[::-1]

    def reversed_scandir(path="."):
        with scandir(path) as it:
            return _Listed(list(it)[::-1])
    return reversed_listdir, reversed_scandir


def install() -> None:
    """List every folder backwards in this process from now on."""
    os.listdir, os.scandir = reversed_functions()
