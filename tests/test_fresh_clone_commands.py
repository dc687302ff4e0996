"""tools/fresh_clone_commands.py runs every command the docs show from a fresh clone (issue 38): it must know each
of them, read them as the docs write them, and judge each run against what the docs say it does."""
import time
from pathlib import Path

from tools.fresh_clone_commands import COMMANDS, Command, documented, run


def test_every_command_the_docs_show_is_one_the_check_runs_and_no_other():
    shown = [c.shown for c in COMMANDS]
    assert len(shown) == len(set(shown))
    assert sorted(documented()) == sorted(shown)


def test_documented_reads_backticks_fences_comments_and_continuations(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(
        "Run `make reproduce` or `python -m quarbert_lib reproduce --only 13\n  -p x=1 --dry-run`; not `pytest`.\n\n"
        "```bash\nmake test        # the tests\npython -m quarbert_lib predict run \\\n    --sentence \"A b.\"\nls\n```\n")
    (tmp_path / "docs" / "b.md").write_text("`make reproduce` and `make  figures`\n")
    (tmp_path / "docs" / "a.md").write_text("```\nmake figures\n```\n")
    assert documented(tmp_path) == {
        "make figures": ["a.md", "b.md"], "make reproduce": ["README.md", "b.md"], "make test": ["README.md"],
        "python -m quarbert_lib predict run --sentence \"A b.\"": ["README.md"],
        "python -m quarbert_lib reproduce --only 13 -p x=1 --dry-run": ["README.md"]}


def test_a_run_is_right_when_it_does_what_the_docs_say(tmp_path):
    ok, refused = run(Command("true", 1), tmp_path, tmp_path / "a.log"), run(Command("false", 1), tmp_path, tmp_path / "b.log")
    assert (ok["rc"], ok["right"]) == (0, True) and (refused["rc"], refused["right"]) == (1, False)
    said = run(Command("echo 'error: no weights here'; exit 2", 1, expect="refuses"), tmp_path, tmp_path / "c.log")
    assert (said["rc"], said["last"], said["right"]) == (2, "error: no weights here", True)
    crashed = run(Command("echo Traceback; exit 1", 1, expect="refuses"), tmp_path, tmp_path / "d.log")
    assert crashed["right"] is False
    server = run(Command("sleep 5", 0.01, expect="serves"), tmp_path, tmp_path / "e.log")
    assert (server["rc"], server["right"]) == (None, True)
    assert run(Command("sleep 5", 0.01), tmp_path, tmp_path / "f.log")["right"] is False


def test_a_command_at_its_limit_is_ended_with_its_children(tmp_path):
    """A command past its limit is ended with everything it started: `make lab`'s server or a batch's training run
    would otherwise outlive it and run beside the next command (the smoke batch's training did, stop 49)."""
    server = run(Command("sleep 60 & echo $! > child.pid; wait", 0.02, expect="serves"), tmp_path, tmp_path / "g.log")
    assert server["rc"] is None
    status = Path(f"/proc/{int((tmp_path / 'child.pid').read_text())}/status")
    deadline = time.monotonic() + 10
    while status.exists() and "\tZ" not in status.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not status.exists() or "\tZ" in status.read_text()
