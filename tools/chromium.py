"""Find or get a Chromium for the real-browser check, without root where possible.

Order: ``QUARBERT_CHROMIUM``; a system Chromium (Debian's ``chromium``, ``chromium-browser``, Chrome);
Playwright's own download. ``ensure()`` (`make chromium`, run by `make test`) tries to get one when none
is found: Debian's package where apt works (as root, or with sudo that needs no password), otherwise
``python -m playwright install chromium`` (its download needs the internet). When neither works it raises
``ChromiumMissing`` with one line saying how to get one; the real-browser test then fails, never skips.

    python -m tools.chromium                # print the Chromium it uses, getting one if needed
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from quarbert_lib.base.cli import run
from quarbert_lib.base.errors import UserError

ENV = "QUARBERT_CHROMIUM"
SYSTEM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/snap/bin/chromium",
          "/Applications/Chromium.app/Contents/MacOS/Chromium",
          "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome")
HOW = ("no Chromium for the real-browser check: install one (Debian: `sudo apt-get install chromium`; elsewhere: "
       f"`python -m playwright install chromium`) or set {ENV} to a Chromium binary")


class ChromiumMissing(UserError, RuntimeError):
    """No Chromium could be found or got (a user error: the message says how to get one)."""


def playwright_chromium() -> Path | None:
    """Where Playwright keeps its own Chromium, if it has downloaded one."""
    try:
        from playwright.sync_api import sync_playwright  # optional dependency, may be absent: see the except
        with sync_playwright() as p:
            path = Path(p.chromium.executable_path)
    except Exception:   # no playwright, or no driver: then there is no Playwright Chromium either
        return None
    return path if path.exists() else None


def find() -> Path | None:
    """The first Chromium present, in the module's order."""
    if os.environ.get(ENV):
        path = Path(os.environ[ENV])
        if not path.exists():
            raise ChromiumMissing(f"{ENV}={path} does not exist; " + HOW)
        return path
    for candidate in SYSTEM:
        if Path(candidate).exists():
            return Path(candidate)
    return playwright_chromium()


def _run(command: list[str]) -> bool:
    try:
        return subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def apt_prefix() -> list[str] | None:
    """How to run apt-get here: directly as root, through sudo when it needs no password, else None."""
    if not shutil.which("apt-get"):
        return None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    return ["sudo", "-n"] if shutil.which("sudo") and _run(["sudo", "-n", "true"]) else None


def ensure() -> Path:
    """A Chromium: the one found, else Debian's package (where apt works), else Playwright's download."""
    found = find()
    if found:
        return found
    prefix = apt_prefix()
    if prefix is not None:
        install = [*prefix, "apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        if _run(install) or (_run([*prefix, "apt-get", "update"]) and _run(install)):
            found = find()
    if not found and _run([sys.executable, "-m", "playwright", "install", "chromium"]):
        found = find()
    if not found:
        raise ChromiumMissing(HOW)
    return found


def main(argv: list[str] | None = None) -> int:
    print(ensure())
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
