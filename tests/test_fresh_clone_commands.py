"""tools/fresh_clone_commands.py runs every command the docs show from a fresh clone (issue 38): it must know each
of them, read them as the docs write them, and judge each run against what the docs say it does."""
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
