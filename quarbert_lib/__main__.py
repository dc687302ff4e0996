"""``python -m quarbert_lib COMMAND ...``: one entry for using trained models and for the study's tools.

    predict RUN_OR_FOLDER --sentence TEXT [--sentence ...] [--pair S1 S2 ...] [--csv FILE] [--stdin] [--json]
    export  RUN_OR_FOLDER DEST
    submit  [RUN_OR_FOLDER] [--dest FOLDER]     (default: the study's best model; see quarbert_lib.study.submit)

RUN_OR_FOLDER is a run, ensemble or export folder, or a registry name (a complete run, or an ensemble
folder such as ensemble-seed<N>) looked up under ``--profile`` (default cpu) and ``--encoder`` (default
minilm-l6). The other commands hand their arguments to their module's ``main``: ``python -m quarbert_lib figures
--profile quick`` is ``quarbert_lib.reporting.figures.main(["--profile", "quick"])``.

A user's mistake (a folder that is not a model, a missing file, a bad CSV) prints one line and exits 2
(cli.run); ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

# Nothing imports this module, so importing the subcommands' modules here makes no import circle.
from .base.cli import run
from .batch import lab, reproduce, verify
from .benchmarks import bench
from .core import data
from .reporting import figures
from .study import experiment, prior, records, serve, submit

PASS_THROUGH = {
    "reproduce": (reproduce, "execute the numbered notebooks"),
    "verify": (verify, "retrain a sample of the recorded runs and compare them with their records"),
    "lab": (lab, "JupyterLab with the notebooks opening as notebooks (make lab)"),
    "figures": (figures, "rebuild figures and tables from saved results"),
    "bench": (bench, "speed benchmarks"),
    "data": (data, "download the course data"),
    "experiment": (experiment, "train and evaluate one config into the registry"),
    "records": (records, "save or restore run records"),
    "prior": (prior, "measure the frozen encoder's prior"),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m quarbert_lib",
                                  description="Use trained models (predict, export) and run the study's tools.",
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog=__doc__.split("\n", 2)[2])
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("predict", help="score sentences and sentence pairs with a run, an ensemble or an export")
    p.add_argument("model", metavar="RUN_OR_FOLDER", help="a run, ensemble or export folder, or a registry name")
    p.add_argument("--sentence", action="append", default=[], metavar="TEXT",
                   help="a sentence for the sentence tasks (SST); repeat for more")
    p.add_argument("--pair", action="append", nargs=2, default=[], metavar=("S1", "S2"),
                   help="a sentence pair for the pair tasks (paraphrase, STS); repeat for more")
    p.add_argument("--csv", action="append", default=[], type=Path, metavar="FILE",
                   help="a CSV (or tab-separated) file with a column 'sentence', or columns 'sentence1' and "
                        "'sentence2', or all three")
    p.add_argument("--stdin", action="store_true",
                   help="read standard input: one input per line, a pair as S1<TAB>S2")
    p.add_argument("--json", action="store_true", help="JSON lines, one object per input, instead of a table")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    e = sub.add_parser("export", help="write a run, an ensemble or the LoRA quartet to a self-contained folder")
    e.add_argument("model", metavar="RUN_OR_FOLDER", help="a run, ensemble or export folder, or a registry name")
    e.add_argument("dest", type=Path, metavar="DEST", help="a new (or empty) folder")
    s = sub.add_parser("submit", help="write a model's dev and test outputs in the course's format into one folder, "
                                      "every id checked")
    s.add_argument("model", metavar="RUN_OR_FOLDER", nargs="?", default="best",
                   help="a run, ensemble or export folder, or a registry name (default 'best': the model notebook "
                        "13 chose on the calibration split, reports/tables/best_model.csv; without one, the ablation "
                        "table's best row at its best seed, a choice made on dev)")
    s.add_argument("--dest", type=Path, default=submit.DEFAULT_DEST,
                   help=f"the folder to write (default {submit.DEFAULT_DEST.relative_to(submit.REPO_ROOT)})")
    s.add_argument("--device", default="cpu", help="torch device, where the model must score (default cpu)")
    for cmd in (p, e, s):
        cmd.add_argument("--profile", default="cpu", help="where a registry name is looked up (default cpu)")
        cmd.add_argument("--encoder", default="minilm-l6", help="the run's encoder for a registry name (default minilm-l6)")
    for name, (_, what) in PASS_THROUGH.items():
        sub.add_parser(name, help=what, add_help=False)   # listed in --help; main() hands the arguments on
    return top


def read_csv_inputs(path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """(sentences, pairs) of a CSV file (tab-separated when the header holds a tab, as the course files are),
    read as the course loader reads its files: UTF-8, one physical line a record, csv quoting that must close
    on its line (data.parse_line). Column 'sentence' gives a sentence, columns 'sentence1' and 'sentence2' a pair;
    with all three, each row fills either its sentence or its pair. Raises serve.InputError for a missing file or
    a header with neither, and a one-line error naming the file, line and column for a line that cannot be read,
    a row that fills both or neither, or a pair with one side blank: no row is merged, dropped or made up."""
    if not path.is_file():
        raise serve.InputError(f"--csv {path}: no such file")
    lines = data.split_lines(data.read_text(path))
    delimiter = "\t" if "\t" in lines[0] else ","
    header = [name.strip() for name in next(csv.reader([lines[0]], delimiter=delimiter), [])]
    col = {name: i for i, name in enumerate(header)}
    has_pairs = "sentence1" in col and "sentence2" in col
    if "sentence" not in col and not has_pairs:
        raise serve.InputError(f"--csv {path}: header {[c for c in col if c]} has no column 'sentence' "
                               "nor columns 'sentence1' and 'sentence2'")
    sentences, pairs = [], []
    for line, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        try:
            row = data.parse_line(text, header, delimiter)
        except data.RowError as e:
            raise data.DataError(path, line, e.field, e.reason) from None
        cell = lambda name: row[col[name]].strip() if name in col and col[name] < len(row) else ""  # noqa: E731
        sentence, pair = cell("sentence"), (cell("sentence1"), cell("sentence2"))
        if bool(sentence) == any(pair):
            raise data.DataError(path, line, "sentence", "fills both its sentence and its pair" if sentence else
                                 "has no sentence and no pair to score")
        if sentence:
            sentences.append(sentence)
        elif not all(pair):
            raise data.DataError(path, line, "sentence2" if pair[0] else "sentence1", "one side of the pair is blank")
        else:
            pairs.append(pair)
    return sentences, pairs


def read_lines(lines) -> tuple[list[str], list[tuple[str, str]]]:
    """(sentences, pairs) from text lines: a line with a tab is a pair (split at the first tab), any other
    non-blank line a sentence."""
    sentences, pairs = [], []
    for line in lines:
        line = line.rstrip("\r\n")
        if "\t" in line:
            a, b = line.split("\t", 1)
            pairs.append((a, b))
        elif line.strip():
            sentences.append(line)
    return sentences, pairs


def predict_command(args) -> int:
    sentences, pairs = list(args.sentence), [tuple(p) for p in args.pair]
    for path in args.csv:
        more, more_pairs = read_csv_inputs(path)
        sentences += more
        pairs += more_pairs
    if args.stdin:
        more, more_pairs = read_lines(sys.stdin)
        sentences += more
        pairs += more_pairs
    if not sentences and not pairs:
        raise serve.InputError("nothing to score: give --sentence TEXT, --pair S1 S2, --csv FILE or --stdin")
    scorer = serve.load(serve.resolve(args.model, args.profile, args.encoder), args.device)
    scores = scorer.score(sentences, pairs)
    print(serve.to_json_lines(scores) if args.json else serve.to_table(scores))
    return 0


def export_command(args) -> int:
    source = serve.resolve(args.model, args.profile, args.encoder)
    dest = serve.export(source, args.dest)
    manifest = serve.read_manifest(dest)
    print(f"exported {source} to {dest} (kind {manifest['kind']}; members: {', '.join(manifest['members'])}; "
          f"tasks: {', '.join(manifest['tasks'])})")
    return 0


def submit_command(args) -> int:
    source = (submit.best_model(args.profile, args.encoder) if args.model == "best"
              else serve.resolve(args.model, args.profile, args.encoder))
    print(submit.summary(submit.write_submission(source, args.dest, args.device), source))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASS_THROUGH:
        return PASS_THROUGH[argv[0]][0].main(argv[1:]) or 0
    if not argv:                    # typed bare: what a newcomer needs is the list of commands, not a usage error
        parser().print_help()
        return 0
    args = parser().parse_args(argv)
    return {"predict": predict_command, "export": export_command, "submit": submit_command}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(run(main))
