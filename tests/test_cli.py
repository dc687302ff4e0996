"""User errors on the command line: one line, exit code 2, no traceback (unless --debug)."""
import os
import subprocess
import sys

import pytest

from quarbert_lib.base import cli
from quarbert_lib.core.config import profile_config


def _cli(args, env_extra, cwd):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **env_extra}
    env.pop("QUARBERT_DEBUG", None)
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def _config(tmp_path, encoder, **overrides):
    cfg = profile_config("smoke", tasks=["sst"], model__encoder=str(encoder), train__max_steps=1, **overrides)
    path = tmp_path / "cfg.json"
    path.write_text(cfg.to_json())
    return str(path)


def _one_error_line(result):
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr[-2000:]
    return lines[0]


def test_missing_data_dir_is_one_line_and_exit_2(tmp_path, tiny_encoder_dir):
    env = {"QUARBERT_DATA": str(tmp_path / "nowhere"), "QUARBERT_RUNS": str(tmp_path / "runs")}
    result = _cli(["quarbert_lib.study.experiment", "01_x", "r", "--config", _config(tmp_path, tiny_encoder_dir)], env, tmp_path)
    line = _one_error_line(result)
    assert "QUARBERT_DATA" in line and "python -m quarbert_lib data download" in line
    assert not (tmp_path / "runs").exists()                      # stopped before anything was written


def test_malformed_row_names_file_line_and_field(tmp_path, tiny_encoder_dir, mini_data_dir):
    broken = tmp_path / "data"
    broken.mkdir()
    for f in mini_data_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    lines = (broken / "ids-sst-train.csv").read_text().splitlines()
    cells = lines[3].split("\t")
    lines[3] = "\t".join(cells[:-1] + ["seven"])                 # sentiment 'seven' on file line 4
    (broken / "ids-sst-train.csv").write_text("\n".join(lines) + "\n")
    cfg = _config(tmp_path, tiny_encoder_dir, data__skip_bad_rows=False)
    env = {"QUARBERT_DATA": str(broken), "QUARBERT_RUNS": str(tmp_path / "runs")}
    line = _one_error_line(_cli(["quarbert_lib.study.experiment", "01_x", "r", "--config", cfg], env, tmp_path))
    assert "ids-sst-train.csv" in line and "line 4" in line and "sentiment" in line
    debug = _cli(["quarbert_lib.study.experiment", "01_x", "r", "--config", cfg, "--debug"], env, tmp_path)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "DataError" in debug.stderr


def test_bad_config_value_is_a_user_error(capsys):
    def main(argv):
        profile_config("cpu", train__lr=-1.0)
        return 0
    assert cli.run(main, []) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "train.lr" in err


def test_programming_errors_still_raise():
    def main(argv):
        return {}["missing"]
    with pytest.raises(KeyError):
        cli.run(main, [])


def test_debug_flag_is_removed_before_main_sees_it(monkeypatch):
    seen = []
    assert cli.run(lambda argv: seen.append(argv) or 0, ["a", "--debug", "b"]) == 0
    assert seen == [["a", "b"]]
    monkeypatch.setenv("QUARBERT_DEBUG", "1")
    with pytest.raises(ValueError):
        cli.run(lambda argv: profile_config("cpu", train__lr=-1.0), [])


def test_the_bare_command_lists_every_command(capsys):
    """`python -m quarbert_lib` typed alone (docs/using_a_model.md names it as the one entry) answered with argparse's
    usage error, exit 2, naming no command (the fresh-clone check of the docs' commands, stop 50): it prints the help,
    which lists every command, and exits 0."""
    from quarbert_lib import __main__ as entry
    assert entry.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m quarbert_lib")
    for command in ("predict", "export", "submit", *entry.PASS_THROUGH):
        assert command in out, command


def test_figures_of_a_profile_with_no_results_is_one_line_and_writes_nothing(isolated, capsys):
    """`python -m quarbert_lib figures --profile quick` on a fresh clone (no quick batch yet) wrote a results.md that
    was its title alone, exit 0 (the fresh-clone check of the docs' commands, stop 50)."""
    from quarbert_lib.reporting import figures
    assert cli.run(figures.main, ["--profile", "quick"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "holds no results of profile quick and encoder minilm-l6" in err[0], err
    assert "make reproduce PROFILE=quick" in err[0]
    assert not list((isolated / "reports").rglob("results.md"))
