"""Course CSV loaders, the offline Quora split, tokenize-once task data, batching, download.

Each malformed row raises a DataError naming file, line and field; with
``skip_bad_rows=True`` it is skipped, counted in a LoadReport and printed. Nothing is
dropped silently.

Run ``python -m quarbert_lib data download --dest data`` to fetch the course files.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import random
import re
import sys
import unicodedata
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..base.errors import UserError
from ..base.notebook import notes
from ..base.paths import DATA_ENV, REPO_ROOT, DataNotFound, resolve_data_dir
from ..base.tasks import TASKS, TaskSpec
from .config import DataConfig

COURSE_REPO_URL = "https://raw.githubusercontent.com/gpoesia/minbert-default-final-project/main/data/"
COURSE_FILES = [f for spec in TASKS.values() for f in spec.files.values()]
_SUBSET_SEED = 1234  # one fixed training subset per task, whatever the run's seed


_DATA_IDENTITIES: dict[tuple, str] = {}


def data_identity(tasks: list[str], cfg: DataConfig) -> str | None:
    """What a run's data are, not where they lie: the SHA-256 of every course file its tasks read (each file's name
    and bytes, in sorted order; cached per process by their sizes and times), or None where no data are found. A run
    records it (metrics.json 'data_identity'), so a course file changed since is another run (results.is_complete),
    and the same files in another folder or on another machine are the same run."""
    try:
        root = resolve_data_dir(cfg.data_dir)
    except DataNotFound:
        return None
    files = sorted({root / name for t in tasks for name in TASKS[t].files.values() if (root / name).is_file()})
    key = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if key not in _DATA_IDENTITIES:
        digest = hashlib.sha256()
        for p in files:
            digest.update(p.name.encode() + b"\0" + p.read_bytes())
        _DATA_IDENTITIES[key] = "sha256:" + digest.hexdigest()
    return _DATA_IDENTITIES[key]


class DataError(UserError, ValueError):
    """A course file is malformed at (file, line, field)."""

    def __init__(self, path, line: int, field_name: str, reason: str):
        self.path, self.line, self.field, self.reason = str(path), line, field_name, reason
        super().__init__(f"{path}, line {line}, field {field_name!r}: {reason}")


@dataclass
class Example:
    id: str
    sentence1: str
    sentence2: str | None = None
    label: float | int | None = None
    line: int = 0


@dataclass
class LoadReport:
    path: str
    rows: int = 0
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # (line, field, reason)

    def summary(self) -> str:
        s = f"{Path(self.path).name}: {self.rows - len(self.skipped)} rows kept, {len(self.skipped)} skipped"
        if self.skipped:
            s += " (" + "; ".join(f"line {ln} {fld}: {why}" for ln, fld, why in self.skipped[:3])
            s += ", ..." if len(self.skipped) > 3 else ""
            s += ")"
        return s


def _parse_label(spec: TaskSpec, raw: str) -> float | int:
    lo, hi = spec.label_range
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{raw!r} is not finite")
    if spec.kind == "regress":
        if not lo <= value <= hi:
            raise ValueError(f"{value} is outside [{lo}, {hi}]")
        return value
    if value != int(value) or not lo <= value <= hi:
        raise ValueError(f"{raw!r} is not an integer label in {int(lo)}..{int(hi)}")
    return int(value)


def load_csv(path, spec: TaskSpec, has_labels: bool = True, skip_bad_rows: bool = False
             ) -> tuple[list[Example], LoadReport]:
    """Read one course file (tab-separated, csv quoting, optional BOM): (examples, report).

    Each record is one physical line with one field per header column; no field holds a tab or a line
    break (true of every course file), so each line is read on its own and a fault costs its own line only.
    A line that breaks this (a stray double quote csv cannot close, a tab inside a sentence), a missing field,
    an empty or duplicate id, an empty sentence in a labelled file or a label out of range raises
    DataError(file, line, field); with ``skip_bad_rows`` a labelled file's line is skipped and counted instead,
    so rows kept plus rows skipped equal the non-blank lines read. An unlabelled (test) file is never skipped
    in: every one of its ids must get an answer, so a bad line there is an error in either mode (it keeps
    empty sentences, which are answered).
    """
    path = Path(path)
    text = read_text(path)
    sentence_fields = ["sentence1", "sentence2"] if spec.is_pair else ["sentence"]
    needed = ["id", *sentence_fields] + ([spec.label_field] if has_labels else [])
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 28))  # huge lines parse; the tokenizer truncates
    # one physical line is one record (no course field holds a tab or a line break), so a stray double quote can
    # cost its own line only, never the lines after it: each line is parsed on its own
    lines = split_lines(text)
    try:
        header = parse_line(lines[0], [])
    except RowError as e:
        raise DataError(path, 1, "<header>", f"unreadable ({e.reason})") from None
    if not text.strip():
        raise DataError(path, 1, "<header>", "file is empty")
    col = {name.strip(): i for i, name in enumerate(header)}
    for name in needed:
        if name not in col:
            raise DataError(path, 1, name, f"column missing from header {header!r} (tab-separated expected)")
    report, examples = LoadReport(str(path)), []
    seen_ids: dict[str, int] = {}
    for line, physical in enumerate(lines[1:], start=2):
        if not physical.strip():
            continue  # blank line: no record
        report.rows += 1
        try:
            values = _record_fields(parse_line(physical, header), header, col, needed)
            ex_id = values["id"].strip()
            if not ex_id:
                raise RowError("id", "empty")
            if ex_id in seen_ids:
                raise RowError("id", f"duplicate of line {seen_ids[ex_id]}")
            for name in sentence_fields:
                # an unlabelled (test) row is answered whatever it holds: an empty sentence is encoded as one
                if has_labels and _blank(values[name]):
                    raise RowError(name, "empty sentence" if not values[name].strip() else
                                    "no visible character (only format characters such as a zero-width space), so "
                                    "it encodes as an empty sentence")
            label = None
            if has_labels:
                try:
                    label = _parse_label(spec, values[spec.label_field].strip())
                except ValueError as e:
                    raise RowError(spec.label_field, str(e)) from None
        except RowError as e:
            if not skip_bad_rows or not has_labels:
                raise DataError(path, line, e.field, e.reason + ("" if has_labels else
                                "; every row of an unlabelled file needs an answer, so none is skipped: fix the row")) from None
            report.skipped.append((line, e.field, e.reason))
            continue
        seen_ids[ex_id] = line
        examples.append(Example(ex_id, values[sentence_fields[0]].strip(),
                                values["sentence2"].strip() if spec.is_pair else None, label, line))
    if report.skipped:
        notice(f"skipped malformed rows: {report.summary()}")
    return examples, report


_NOTICED: set[str] = set()


def notice(text: str) -> None:
    """Print a data note once per process (so once per notebook: every run of it loads the same files);
    each run's metrics.json still records its notes."""
    if text not in _NOTICED:
        _NOTICED.add(text)
        print(f"[quarbert] {text}", file=notes())


# A line ends at \r\n, \n or a lone \r (csv's own line ends): none is ever inside a course field.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Course fields never hold these: a field that does was joined to its neighbours by a stray quote or tab.
_FIELD_BREAKERS = {"\t": "a tab", "\n": "a line break", "\r": "a line break"}


def read_text(path: Path) -> str:
    """A text file's contents, UTF-8 with or without a BOM; else DataError naming the line of the first byte that
    is not (a UTF-16 file, Excel's "Unicode text", is named as such)."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        utf16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff")
        raise DataError(path, raw[: e.start].count(b"\n") + 1, "<bytes>",
                        "not UTF-8: it is UTF-16 (Excel's 'Unicode text'); save it as UTF-8" if utf16 else
                        f"not UTF-8 ({e.reason}); save it as UTF-8") from None


def split_lines(text: str) -> list[str]:
    """The physical lines of a file's text (ending at \\r\\n, \\n or a lone \\r): one record each."""
    return _LINE_BREAK.split(text)


def parse_line(line: str, header: list[str], delimiter: str = "\t") -> list[str]:
    """The fields of one physical line (csv quoting, strict), each checked to hold no tab or line break; raises
    RowError naming the field (by ``header``) that breaks the shape, as the course loader reports it."""
    try:
        row = next(csv.reader([line], delimiter=delimiter, strict=True), [""])
    except csv.Error as e:
        raise RowError(_quoted_field(line, header, delimiter), f"a double quote opens it and does not close "
                        f"it as csv quoting does ({e}): course fields never hold one there") from None
    for i, value in enumerate(row):
        broken = next((what for ch, what in _FIELD_BREAKERS.items() if ch in value), None)
        if broken:
            name = header[i].strip() if i < len(header) and header[i].strip() else f"<column {i + 1}>"
            raise RowError(name, f"holds {broken}, which course fields never do (an unbalanced double quote?)")
    return row


def _blank(text: str) -> bool:
    """Whether ``text`` holds nothing the tokenizer keeps: only whitespace, control and format characters (a
    zero-width space U+200B, a BOM U+FEFF, a soft hyphen U+00AD, a zero-width joiner U+200D), which BERT's
    tokenizer drops, so the sentence encodes as [CLS][SEP]."""
    return all(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def _quoted_field(line: str, header: list[str], delimiter: str = "\t") -> str:
    """The header name of the first field of ``line`` that opens with a double quote (the one csv cannot read)."""
    starts = [i for i, value in enumerate(line.split(delimiter)) if value.startswith('"')]
    i = starts[0] if starts else None
    return header[i].strip() or f"<column {i + 1}>" if i is not None and i < len(header) else "<row>"


def _record_fields(row: list[str], header: list[str], col: dict[str, int], needed: list[str]) -> dict[str, str]:
    """The needed fields of one record (parse_line checked its fields), after checking its shape: one field per
    header column. Raises RowError naming the field."""
    for name in needed:
        if col[name] >= len(row):
            raise RowError(name, f"missing (row has {len(row)} fields, header {len(header)})")
    if len(row) > len(header):
        raise RowError("<row>", f"has {len(row)} fields, header {len(header)} (a tab inside a field?)")
    return {name: row[col[name]] for name in needed}


class RowError(Exception):
    def __init__(self, field_name: str, reason: str):
        self.field, self.reason = field_name, reason


def quora_hash_split(examples: list[Example], dev_percent: int = 20) -> tuple[list[Example], list[Example]]:
    """Deterministic, disjoint split by id: SHA-1(id) mod 100 < dev_percent goes to dev."""
    train, dev = [], []
    for ex in examples:
        bucket = int(hashlib.sha1(ex.id.encode("utf-8")).hexdigest(), 16) % 100
        (dev if bucket < dev_percent else train).append(ex)
    return train, dev


@dataclass
class TaskSplits:
    spec: TaskSpec
    splits: dict[str, list[Example]]
    reports: list[LoadReport]
    note: str = ""  # how the splits were made when they differ from the course's files


def load_task(task: str, cfg: DataConfig | None = None) -> TaskSplits:
    """train / dev (/ test when its file exists) examples of one task, per the config."""
    cfg = cfg or DataConfig()
    spec, data_dir = TASKS[task], resolve_data_dir(cfg.data_dir)
    splits, reports, note = {}, [], ""

    def read(split: str, has_labels: bool = True) -> list[Example]:
        examples, report = load_csv(data_dir / spec.files[split], spec, has_labels, cfg.skip_bad_rows)
        reports.append(report)
        return examples

    if task == "para" and not (data_dir / spec.files["train"]).is_file():
        pooled = read("dev")
        splits["train"], splits["dev"] = quora_hash_split(pooled, cfg.quora_dev_percent)
        note = (f"quora-train.csv absent: Quora train/dev is a {100 - cfg.quora_dev_percent}/"
                f"{cfg.quora_dev_percent} split of quora-dev.csv by SHA-1(id) mod 100 "
                f"({len(splits['train'])} train / {len(splits['dev'])} dev pairs)")
        notice(note)
    else:
        splits["train"], splits["dev"] = read("train"), read("dev")
    if (data_dir / spec.files["test"]).is_file():
        splits["test"] = read("test", has_labels=False)
    train = splits["train"]
    if cfg.max_train_per_task and len(train) > cfg.max_train_per_task:
        keep = sorted(random.Random(_SUBSET_SEED).sample(range(len(train)), cfg.max_train_per_task))
        kept = set(keep)
        splits["train"], spare = [train[i] for i in keep], [e for i, e in enumerate(train) if i not in kept]
    elif cfg.calibration_holdout and cfg.calibration_size and len(train) > 2 * cfg.calibration_size:
        held = set(random.Random(_SUBSET_SEED + 1).sample(range(len(train)), cfg.calibration_size))
        splits["train"], spare = [e for i, e in enumerate(train) if i not in held], [train[i] for i in sorted(held)]
    else:
        spare = []
    if spare and cfg.calibration_size:
        # calibration examples never seen in training, and never the reported dev set
        pick = sorted(random.Random(_SUBSET_SEED + 2).sample(range(len(spare)), min(len(spare), cfg.calibration_size)))
        splits["calib"] = [spare[i] for i in pick]
    if cfg.max_dev_per_task:
        for split in ("dev", "test", "calib"):
            if split in splits:
                splits[split] = splits[split][: cfg.max_dev_per_task]
    return TaskSplits(spec, splits, reports, note)


def load_task_data(cfg, tokenizer) -> tuple[dict, dict, list[str], list[str]]:
    """Every split of each task of ``cfg`` (an ExperimentConfig: its tasks and data section), tokenized once:
    ({split: {task: TaskData}}, {task: examples skipped}, data notes, load summaries)."""
    by_split: dict[str, dict[str, TaskData]] = {"train": {}, "dev": {}, "test": {}, "calib": {}}
    skipped, notes, summaries = {}, [], []
    for task in cfg.tasks:
        loaded = load_task(task, cfg.data)
        for split, examples in loaded.splits.items():
            by_split[split][task] = TaskData(loaded.spec, examples, tokenizer, cfg.data.max_length)
        skipped[task] = sum(len(r.skipped) for r in loaded.reports)
        summaries += [r.summary() for r in loaded.reports]
        if loaded.note:
            notes.append(loaded.note)
    return by_split, skipped, notes, summaries


class TaskData:
    """Token ids of one split, computed once; builds padded batches on demand.

    Ids are stored without special tokens; ``collate`` adds [CLS]/[SEP] for the
    chosen pair encoding and pads each batch to its own longest row (dynamic padding).
    """

    def __init__(self, spec: TaskSpec, examples: list[Example], tokenizer, max_length: int):
        self.spec, self.examples, self.max_length = spec, examples, max_length
        self.cls_id, self.sep_id, self.pad_id = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id

        def ids(texts):
            return tokenizer(texts, add_special_tokens=False, truncation=True,
                             max_length=max_length - 2)["input_ids"] if texts else []

        self.ids1 = ids([e.sentence1 for e in examples])
        self.ids2 = ids([e.sentence2 for e in examples]) if spec.is_pair else None
        self.has_labels = bool(examples) and examples[0].label is not None
        lengths = [len(a) for a in self.ids1]
        if self.ids2 is not None:
            lengths = [a + len(b) for a, b in zip(lengths, self.ids2)]
        self.lengths = lengths

    def __len__(self) -> int:
        return len(self.examples)

    def batches(self, batch_size: int, shuffle: bool, seed: int = 0) -> list[list[int]]:
        """Index lists. Shuffled: length-grouped within pools of 50 batches, pools and batches
        in a seeded random order. Not shuffled: longest first (fast inference)."""
        order = list(range(len(self)))
        if not shuffle:
            order.sort(key=lambda i: -self.lengths[i])
            return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        rng = random.Random(seed)
        rng.shuffle(order)
        pool = batch_size * 50
        out = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start:start + pool], key=lambda i: self.lengths[i])
            out += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
        rng.shuffle(out)
        return out

    def _pad(self, rows: list[list[int]], type_rows: list[list[int]] | None = None) -> dict:
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)   # (B, T)
        mask = torch.zeros((len(rows), width), dtype=torch.long)                      # (B, T)
        for i, r in enumerate(rows):
            input_ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        out = {"input_ids": input_ids, "attention_mask": mask}
        if type_rows is not None:
            types = torch.zeros_like(input_ids)
            for i, r in enumerate(type_rows):
                types[i, : len(r)] = torch.tensor(r)
            out["token_type_ids"] = types
        return out

    def collate(self, idx: list[int], pair_encoding: str = "siamese") -> dict:
        """Padded tensors for the rows ``idx``; keys depend on the pair encoding."""
        c, s = self.cls_id, self.sep_id
        if self.ids2 is None:
            batch = self._pad([[c, *self.ids1[i], s] for i in idx])
        elif pair_encoding == "siamese":
            one, two = self._pad([[c, *self.ids1[i], s] for i in idx]), self._pad([[c, *self.ids2[i], s] for i in idx])
            batch = {"input_ids": one["input_ids"], "attention_mask": one["attention_mask"],
                     "input_ids_2": two["input_ids"], "attention_mask_2": two["attention_mask"]}
        else:
            rows, types = [], []
            for i in idx:
                a, b = _truncate_pair(self.ids1[i], self.ids2[i], self.max_length - 3)
                rows.append([c, *a, s, *b, s])
                types.append([0] * (len(a) + 2) + [1] * (len(b) + 1))
            batch = self._pad(rows, types)
        if self.has_labels:
            dtype = torch.long if self.spec.kind == "classify" else torch.float32
            batch["labels"] = torch.tensor([self.examples[i].label for i in idx], dtype=dtype)  # (B,)
        return batch


def _truncate_pair(a: list[int], b: list[int], budget: int) -> tuple[list[int], list[int]]:
    """Longest-first truncation, as the tokenizers' default does."""
    la, lb = len(a), len(b)
    while la + lb > budget:
        if la >= lb:
            la -= 1
        else:
            lb -= 1
    return a[:la], b[:lb]


class DownloadError(UserError, OSError):
    """A course file that could not be fetched (no internet, or the course's repository moved)."""


def download(dest: str | os.PathLike = "data", base_url: str = COURSE_REPO_URL, overwrite: bool = False) -> list[Path]:
    """Fetch the course CSVs (needs internet). Files are written atomically; a file that cannot be fetched is one
    DownloadError saying what to do instead, and a folder this call made is not left empty."""
    dest = Path(dest)
    made = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in COURSE_FILES:
        target = dest / name
        if target.exists() and not overwrite:
            continue
        try:
            with urllib.request.urlopen(base_url + name, timeout=60) as response:
                body = response.read()
        except OSError as e:
            if name.startswith("quora-") and name != "quora-dev.csv":
                print(f"[quarbert] {name} not available ({e}); the offline Quora split will be used", file=sys.stderr)
                continue
            if made and not any(dest.iterdir()):
                dest.rmdir()
            raise DownloadError(f"could not download {base_url + name} ({getattr(e, 'reason', None) or e}): without "
                                f"internet, copy the course CSVs into a folder and set {DATA_ENV} to it"
                                + (f" ({len(written)} files fetched into {dest}; running it again fetches the rest)"
                                   if written else "")) from None
        tmp = target.with_suffix(".part")
        tmp.write_bytes(body)
        os.replace(tmp, target)
        written.append(target)
    return written


def ensure_data(dest: str | os.PathLike | None = None, base_url: str = COURSE_REPO_URL) -> Path:
    """The data dir. When none is found (and QUARBERT_DATA names none), download the course files into
    ``dest`` (./data of the repository) first. If that fails too (no internet), raise DataNotFound, one
    message naming QUARBERT_DATA and the download command, before any compute is spent."""
    try:
        return resolve_data_dir()
    except DataNotFound as missing:
        if os.environ.get(DATA_ENV):          # the user named a folder: fetching elsewhere would hide the mistake
            raise
        dest = Path(dest or REPO_ROOT / "data")
        before = set(dest.glob("*")) if dest.exists() else set()
        notice(f"no course data found: downloading the course files into {dest}")
        try:
            download(dest, base_url)
        except OSError as e:
            for leftover in set(dest.glob("*")) - before:       # no half-downloaded data folder
                leftover.unlink()
            raise DataNotFound(f"{missing} Downloading them into {dest} failed as well: {e}.") from e
        return resolve_data_dir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quarbert_lib data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("download", help="fetch the course CSVs from the course's public repository")
    d.add_argument("--dest", default="data")
    d.add_argument("--base-url", default=COURSE_REPO_URL)
    d.add_argument("--overwrite", action="store_true")
    sub.add_parser("where", help="print the data dir that would be used")
    args = parser.parse_args(argv)
    if args.command == "download":
        for path in download(args.dest, args.base_url, args.overwrite):
            print(path)
    else:
        print(resolve_data_dir())
    return 0


if __name__ == "__main__":
    from ..base.cli import run
    raise SystemExit(run(main))
