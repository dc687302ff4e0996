"""Every command README.md and docs/*.md show, run from a fresh clone as a new user types it (issue 38): this
repository's HEAD cloned into a scratch folder, then each of COMMANDS in order, with its exit status, its wall
minutes and its last line, as a markdown table on stdout; each command's whole output is kept beside the clone.

    python -m tools.fresh_clone_commands [--only TEXT ...] [--scratch DIR] [--list]

All of it takes hours (the quick profile's batch is most of one): run it with nothing else on the machine, whose
minutes the README quotes. `documented` finds the commands the docs show, and tests/test_tools.py checks that each
is one of COMMANDS, so a command added to the docs is a command this check runs.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# A command as the docs show it: in backticks, or a line of a fenced shell block (a trailing "\" joins the next).
START = re.compile(r"(make|python -m quarbert_lib)\b")


@dataclass(frozen=True)
class Command:
    """One command the docs show: ``shown`` as they show it (whitespace collapsed), the ``minutes`` it may take
    here, ``run`` what runs instead where ``shown`` holds a placeholder (RUN, DEST, N) or needs what no fresh clone
    has, and ``expect``: "ok" (exit 0), "refuses" (a non-zero exit and no traceback: a fresh clone lacks what it
    needs, weights, a cluster, the network or a file, and the docs say it says so), "serves" (a server, still
    running at its limit)."""
    shown: str
    minutes: float
    run: str = ""
    expect: str = "ok"


COMMANDS = (
    Command("make venv", 5),
    Command("make reproduce", 30),
    Command("make reproduce PROFILE=smoke", 20),
    Command("make reproduce PROFILE=cpu", 20),
    Command('make reproduce ONLY="01"', 20),
    Command("make reproduce WORKERS=1", 30),
    Command("make figures", 5),
    Command("make chromium", 10),
    Command("make browser-check", 10),
    Command("make lab", 2, 'make lab LAB_ARGS="--no-browser --port 8899"', expect="serves"),
    Command("make bench", 40),
    Command("make test", 60),
    Command("make", 30),
    Command("python -m quarbert_lib", 1),
    Command("python -m quarbert_lib COMMAND", 1, ".venv/bin/python -m quarbert_lib --help"),
    Command("python -m quarbert_lib reproduce --help", 1),
    Command("python -m quarbert_lib reproduce --dry-run", 5),
    Command("python -m quarbert_lib reproduce --dry-run --workers N", 5, "python -m quarbert_lib reproduce --dry-run --workers 2"),
    Command("python -m quarbert_lib reproduce --check", 5),
    Command('python -m quarbert_lib reproduce --only 13 -p "converged_seeds=[0, 1, 2]" --dry-run', 5),
    Command("python -m quarbert_lib reproduce --only 02 --workers N", 40,
            "python -m quarbert_lib reproduce --only 02 --workers 2"),
    Command("python -m quarbert_lib reproduce --workers 4", 30),
    Command("python -m quarbert_lib reproduce --scheduler tcp://head:8786", 2, expect="refuses"),
    Command("python -m quarbert_lib reproduce --record-seconds reports/quick/executed/summary.json", 1, expect="refuses"),
    Command("python -m quarbert_lib figures --collect", 5),
    Command("python -m quarbert_lib figures --profile quick", 5, expect="refuses"),
    Command("python -m quarbert_lib records size", 1),
    Command("python -m quarbert_lib prior --profile cpu", 10),
    Command("python -m quarbert_lib verify", 20),
    Command("python -m quarbert_lib data download --dest data", 5, expect="refuses"),
    Command("python -m quarbert_lib submit", 5),
    Command("python -m quarbert_lib submit [RUN_OR_FOLDER] [--dest FOLDER]", 5,
            "python -m quarbert_lib submit --dest scratch-submission"),
    Command("python -m quarbert_lib predict", 5, expect="refuses"),
    Command('python -m quarbert_lib predict RUN_OR_FOLDER --sentence "..." --pair "..." "..."', 5,
            'python -m quarbert_lib predict ensemble-seed0 --sentence "A film." --pair "A b." "A c."', expect="refuses"),
    Command('python -m quarbert_lib predict ensemble-seed0 --sentence "A gorgeous, witty film." --pair '
            '"How do I learn Python?" "What is the best way to learn Python?"', 5, expect="refuses"),
    Command('python -m quarbert_lib predict sampling-seed0 --sentence "A gripping, funny film." --sentence "Two hours I '
            'will never get back." --pair "How do I learn Python?" "What is the best way to learn Python?"', 5,
            expect="refuses"),
    Command("python -m quarbert_lib export RUN DEST", 5, "python -m quarbert_lib export ensemble-seed0 scratch-export",
            expect="refuses"),
    Command("python -m quarbert_lib export ensemble-seed0 my-quartet/", 5, expect="refuses"),
    Command("python -m quarbert_lib export ensemble-lora-seed0 exported/lora", 5, expect="refuses"),
    Command("python -m quarbert_lib export ensemble-seed0 exported/quartet", 5, expect="refuses"),
    Command("python -m quarbert_lib export sampling-seed0 exported/sampling", 5, expect="refuses"),
    Command('python -m quarbert_lib predict ensemble-lora-seed0 --sentence "A gripping, funny film."', 5, expect="refuses"),
    Command('python -m quarbert_lib predict ensemble-seed0 --sentence "A gripping, beautifully acted film." --sentence '
            '"The plot is a mess and the jokes fall flat." --sentence "It is a movie about a dog." --pair "How do I learn '
            'Python quickly?" "What is the fastest way to learn Python?" --pair "A man is playing a guitar." "A woman is '
            'slicing an onion."', 5, expect="refuses"),
    Command('python -m quarbert_lib predict ensemble-seed0 --sentence "A gripping, funny film." --pair "How do I learn '
            'Python?" "What is the best way to learn Python?"', 5, expect="refuses"),
    Command('python -m quarbert_lib predict exported/quartet --sentence "A gripping, funny film."', 5, expect="refuses"),
    Command("python -m quarbert_lib bench", 40),
    Command("python -m quarbert_lib bench --only steps", 20),
    Command("python -m quarbert_lib bench --profile paper --random-bert-base TOKENIZER_DIR --only throughput steps", 40,
            "python -m quarbert_lib bench --profile paper --random-bert-base missing-tokenizer --only throughput steps",
            expect="refuses"),
    Command("make reproduce PROFILE=quick", 90),
)


def documented(root: Path = REPO) -> dict[str, list[str]]:
    """{command as shown, whitespace collapsed: the files that show it} over README.md and docs/*.md, in sorted
    order: each line of a fenced block that starts with `make` or `python -m quarbert_lib` (a comment after " #"
    dropped, a trailing "\\" joining the next line), and each such span in backticks outside the blocks (one line
    break allowed inside)."""
    found: dict[str, list[str]] = {}
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        parts = path.read_text(encoding="utf-8").split("```")
        prose, blocks = parts[0::2], parts[1::2]         # fences alternate: outside, inside, outside, ...
        spans = [m for text in prose for m in re.findall(r"`([^`\n]+(?:\n[^`\n]+)?)`", text)]
        for block in blocks:
            spans += re.sub(r"\\\n", " ", block).splitlines()[1:]        # the first line names the language
        for span in spans:
            shown = " ".join(span.split(" #")[0].split())
            if START.match(shown):
                found.setdefault(shown, [])
                if path.name not in found[shown]:
                    found[shown].append(path.name)
    return dict(sorted(found.items()))


def run(command: Command, clone: Path, log: Path) -> dict:
    """One command in the clone, its output to ``log``: {command, expect, rc, minutes, last line, right}."""
    line = command.run or command.shown
    line = re.sub(r"^python ", ".venv/bin/python ", line)
    start = time.perf_counter()
    with log.open("w") as out:
        # its own process group, ended whole at the limit: a command's children (a training run, a Jupyter server)
        # would otherwise outlive it and run beside the next command
        process = subprocess.Popen(["bash", "-c", line], cwd=clone, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            rc = process.wait(timeout=command.minutes * 60)
        except subprocess.TimeoutExpired:
            rc = None
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    lines = [s for s in log.read_text(errors="replace").replace("\r", "\n").splitlines() if s.strip()]
    right = {"ok": rc == 0, "refuses": rc not in (0, None) and not any("Traceback" in s for s in lines),
             "serves": rc is None}[command.expect]
    return {"command": command.shown, "expect": command.expect, "rc": rc, "minutes": (time.perf_counter() - start) / 60,
            "last": lines[-1][:160] if lines else "", "right": right}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fresh_clone_commands", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="run the commands whose shown text contains one of these")
    parser.add_argument("--scratch", help="the folder for the clone and the logs (default: a new temporary one)")
    parser.add_argument("--list", action="store_true", help="list the commands and exit")
    args = parser.parse_args(argv)
    chosen = [c for c in COMMANDS if not args.only or any(o in c.shown for o in args.only)]
    if args.list:
        print("\n".join(f"{c.minutes:>4g} min  {c.expect:<7}  {c.shown}" for c in chosen))
        return 0
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="fresh-clone-"))
    clone = scratch / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    print(f"{len(chosen)} commands in {clone}, at most {sum(c.minutes for c in chosen):.0f} min; logs in {scratch}",
          file=sys.stderr, flush=True)
    print("| command | expected | exit | minutes | last line | right |\n|---|---|---|---|---|---|")
    wrong = 0
    for i, command in enumerate(chosen):
        r = run(command, clone, scratch / f"{i:02d}.log")
        wrong += not r["right"]
        print(f"| `{r['command']}` | {r['expect']} | {r['rc']} | {r['minutes']:.1f} | {r['last'].replace('|', '/')} | "
              f"{'yes' if r['right'] else '**no**'} |", flush=True)
    print(f"\n{len(chosen) - wrong} of {len(chosen)} commands did what the docs say", flush=True)
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
