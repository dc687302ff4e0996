"""Finding or getting a Chromium for the real-browser test: the order, the installers, the one-line failure."""
import subprocess
import sys

import pytest

from tools import chromium


@pytest.fixture
def nothing_installed(monkeypatch, tmp_path):
    monkeypatch.delenv(chromium.ENV, raising=False)
    monkeypatch.setattr(chromium, "SYSTEM", (str(tmp_path / "no-chromium"),))
    monkeypatch.setattr(chromium, "playwright_chromium", lambda: None)
    return tmp_path


def test_the_env_var_wins_and_a_wrong_one_is_an_error(nothing_installed, monkeypatch):
    binary = nothing_installed / "my-chromium"
    binary.write_text("")
    monkeypatch.setenv(chromium.ENV, str(binary))
    assert chromium.find() == binary
    monkeypatch.setenv(chromium.ENV, str(nothing_installed / "missing"))
    with pytest.raises(chromium.ChromiumMissing, match="QUARBERT_CHROMIUM=.*does not exist"):
        chromium.find()


def test_apt_where_it_works_else_playwright_else_one_line(nothing_installed, monkeypatch):
    installed = nothing_installed / "no-chromium"
    ran = []

    def fake_run(command, works):
        ran.append(command)
        if works(command):
            installed.write_text("")
            return True
        return False
    # apt works (root): Debian's package, Playwright not tried
    monkeypatch.setattr(chromium, "apt_prefix", lambda: [])
    monkeypatch.setattr(chromium, "_run", lambda c: fake_run(c, lambda c: c[:2] == ["apt-get", "install"]))
    assert chromium.ensure() == installed and ran == [["apt-get", "install", "-y", "--no-install-recommends", "chromium"]]
    # no apt: Playwright's download
    installed.unlink(), ran.clear()
    monkeypatch.setattr(chromium, "apt_prefix", lambda: None)
    monkeypatch.setattr(chromium, "_run", lambda c: fake_run(c, lambda c: c[1:] == ["-m", "playwright", "install", "chromium"]))
    assert chromium.ensure() == installed and ran == [[sys.executable, "-m", "playwright", "install", "chromium"]]
    # neither: one line that says how
    installed.unlink(), ran.clear()
    monkeypatch.setattr(chromium, "_run", lambda c: fake_run(c, lambda c: False))
    with pytest.raises(chromium.ChromiumMissing) as e:
        chromium.ensure()
    assert "\n" not in str(e.value) and "apt-get install chromium" in str(e.value) and "playwright install chromium" in str(e.value)


def test_the_command_prints_one_line_and_exits_2_without_a_chromium(tmp_path):
    code = ("import sys; from tools import chromium; from quarbert_lib.base import cli; chromium.SYSTEM = (); "
            "chromium.playwright_chromium = lambda: None; chromium.apt_prefix = lambda: None; "
            "chromium._run = lambda c: False; sys.exit(cli.run(chromium.main, []))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and out.stderr.startswith("error: no Chromium")
    assert "Traceback" not in out.stderr
