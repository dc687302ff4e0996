import hashlib

import pytest
import torch
from conftest import write_course_file

from quarbert_lib.base.paths import resolve_data_dir
from quarbert_lib.base.tasks import TASKS
from quarbert_lib.core.config import DataConfig
from quarbert_lib.core.data import DataError, TaskData, download, load_csv, load_task, quora_hash_split


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_course_format_with_quoting(tmp_path):
    path = _write(tmp_path / "sst.csv", '\tid\tsentence\tsentiment\n0\ta1\t It \'s fine .\t3\n'
                  '1\ta2\t"He said ""no"" ."\t0\n')
    examples, report = load_csv(path, TASKS["sst"])
    assert [(e.id, e.sentence1, e.label, e.line) for e in examples] == [
        ("a1", "It 's fine .", 3, 2), ("a2", 'He said "no" .', 0, 3)]
    assert report.rows == 2 and report.skipped == []


def test_pairs_labels_scores_and_bom(tmp_path):
    quora = _write(tmp_path / "q.csv", "\ufeff\tid\tsentence1\tsentence2\tis_duplicate\n0\tq1\tA?\tB?\t1.0\n")
    sts = _write(tmp_path / "s.csv", "\tid\tsentence1\tsentence2\tsimilarity\n0\ts1\tA\tB\t3.8\n")
    (q,), _ = load_csv(quora, TASKS["para"])
    (s,), _ = load_csv(sts, TASKS["sts"])
    assert (q.id, q.sentence1, q.sentence2, q.label) == ("q1", "A?", "B?", 1)
    assert (s.label, type(s.label)) == (3.8, float)


def test_test_student_files_load_without_labels(tmp_path):
    # The course's test files carry an extra leading index column.
    path = _write(tmp_path / "t.csv", "0\t\tid\tsentence\n1\t0.0\tt1\t Fine .\n")
    (e,), _ = load_csv(path, TASKS["sst"], has_labels=False)
    assert (e.id, e.sentence1, e.label) == ("t1", "Fine .", None)


@pytest.mark.parametrize("row, field, reason", [
    ("0\tb1\tfine\t7", "sentiment", "not an integer label in 0..4"),
    ("0\tb1\tfine\t2.5", "sentiment", "not an integer label"),
    ("0\tb1\tfine\tgood", "sentiment", "not a number"),
    ("0\tb1\tfine\tnan", "sentiment", "not finite"),
    ("0\tb1\t   \t2", "sentence", "empty sentence"),
    ("0\tb1\tfine", "sentiment", "missing"),
    ("0\t\tfine\t2", "id", "empty"),
    ("0\ta1\tdup\t2", "id", "duplicate of line 2"),
])
def test_malformed_row_names_file_line_field(tmp_path, row, field, reason):
    path = _write(tmp_path / "bad.csv", f"\tid\tsentence\tsentiment\n0\ta1\tok\t1\n{row}\n")
    with pytest.raises(DataError) as err:
        load_csv(path, TASKS["sst"])
    assert (err.value.line, err.value.field) == (3, field)
    assert reason in err.value.reason and str(path) in str(err.value) and "line 3" in str(err.value)


def test_sts_score_range_and_numeric(tmp_path):
    for value, reason in (("5.5", "outside [0.0, 5.0]"), ("high", "not a number"), ("inf", "not finite")):
        path = _write(tmp_path / "s.csv", f"\tid\tsentence1\tsentence2\tsimilarity\n0\ts1\tA\tB\t{value}\n")
        with pytest.raises(DataError, match="similarity") as err:
            load_csv(path, TASKS["sts"])
        assert reason in err.value.reason and err.value.line == 2


def test_header_problems(tmp_path):
    comma = _write(tmp_path / "comma.csv", ",id,sentence,sentiment\n0,a,fine,1\n")
    with pytest.raises(DataError, match="tab-separated") as err:
        load_csv(comma, TASKS["sst"])
    assert (err.value.line, err.value.field) == (1, "id")
    with pytest.raises(DataError, match="empty"):
        load_csv(_write(tmp_path / "empty.csv", ""), TASKS["sst"])
    latin = tmp_path / "latin.csv"
    latin.write_bytes("\tid\tsentence\tsentiment\n0\ta\tcaf\xe9\t1\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8") as err:
        load_csv(latin, TASKS["sst"])
    assert err.value.line == 2


# The smallest input of each record-shape fault: an unbalanced double quote that swallows the next row
# (csv quoting joins them into one record holding a tab and a line break), a tab inside an unquoted
# sentence (one field too many), and the same in a pair file and in an unlabelled test file.
SWALLOWED = '\tid\tsentence\tsentiment\n0\tbbb\t"Second one is bad\t1\n1\tccc\tThird is "great" fun\t4\n'


def test_a_stray_quote_costs_its_own_line_only(tmp_path):
    """Read as csv, the quote opened on line 2 swallowed line 3 into one record; each line is now read on its own
    (course fields never hold a tab or a line break), so only line 2 is bad."""
    path = _write(tmp_path / "sst.csv", SWALLOWED)
    with pytest.raises(DataError) as err:
        load_csv(path, TASKS["sst"])
    assert (err.value.line, err.value.field) == (2, "sentence") and "double quote" in err.value.reason
    examples, report = load_csv(path, TASKS["sst"], skip_bad_rows=True)
    assert [(e.id, e.sentence1, e.label) for e in examples] == [("ccc", 'Third is "great" fun', 4)]
    assert report.rows == 2 and [(ln, f) for ln, f, _ in report.skipped] == [(2, "sentence")]


QUOTE = '"'


def test_skip_mode_keeps_every_line_but_the_bad_one(tmp_path):
    """The bug hunt's input: a 1,000-row SST train file whose row 2 opens its sentence with a stray quote kept 1
    row and skipped 999; a 1,000-row test file with the quote at row 500 kept 500 ids. Now the train file keeps
    999, and the test file (unlabelled: every id needs an answer) is an error naming the line in either mode."""
    rows = [f"{i}\tid{i}\t{QUOTE if i == 1 else ''}Sentence number {i}\t{i % 5}" for i in range(1000)]
    path = _write(tmp_path / "train.csv", "\tid\tsentence\tsentiment\n" + "\n".join(rows) + "\n")
    examples, report = load_csv(path, TASKS["sst"], skip_bad_rows=True)
    assert [e.id for e in examples] == [f"id{i}" for i in range(1000) if i != 1]
    assert [(ln, f) for ln, f, _ in report.skipped] == [(3, "sentence")] and report.rows == 1000
    rows = [f"{i}\tid{i}\t{QUOTE if i == 499 else ''}Sentence number {i}" for i in range(1000)]
    test = _write(tmp_path / "test.csv", "\tid\tsentence\n" + "\n".join(rows) + "\n")
    for skip in (False, True):
        with pytest.raises(DataError, match="every row of an unlabelled file needs an answer") as err:
            load_csv(test, TASKS["sst"], has_labels=False, skip_bad_rows=skip)
        assert (err.value.line, err.value.field) == (501, "sentence")


@pytest.mark.parametrize("spec, text, has_labels, line, field", [
    ("sst", "\tid\tsentence\tsentiment\n0\ta\tok\t1\n1\tb\tgood\tfun\t2\n", True, 3, "<row>"),
    ("para", '\tid\tsentence1\tsentence2\tis_duplicate\n0\tq1\t"Why?\tHow?\t1.0\n1\tq2\tA?\tB?\t0.0\n', True, 2,
     "sentence1"),
    ("sts", '\tid\tsentence1\tsentence2\n0\ts1\tA man\t"runs .\n1\ts2\tA dog\tbarks .\n', False, 2, "sentence2"),
])
def test_record_shape_is_checked_in_every_course_layout(tmp_path, spec, text, has_labels, line, field):
    path = _write(tmp_path / "f.csv", text)
    with pytest.raises(DataError) as err:
        load_csv(path, TASKS[spec], has_labels)
    assert (err.value.line, err.value.field) == (line, field)


def test_the_real_course_files_load_as_before():
    """Every record of the course's files is one line with one field per column: the shape check keeps
    them all, quora-dev's doubled quotes inside fields included, and skips its two known bad rows only."""
    from quarbert_lib.base.paths import DataNotFound
    try:
        root = resolve_data_dir()
    except DataNotFound:
        pytest.skip("no course data on this machine (CI has ../shared/data/cs224n)")
    expected = {("ids-sst-train.csv", "sst", True): (8544, []), ("ids-sst-test-student.csv", "sst", False): (2210, []),
                ("quora-dev.csv", "para", True): (20212, [(2577, "is_duplicate"), (14222, "sentence2")]),
                ("sts-dev.csv", "sts", True): (863, []), ("sts-test-student.csv", "sts", False): (1725, [])}
    for (name, task, labels), (kept, skipped) in expected.items():
        examples, report = load_csv(root / name, TASKS[task], labels, skip_bad_rows=True)
        assert (len(examples), [(ln, f) for ln, f, _ in report.skipped]) == (kept, skipped), name


def test_skip_bad_rows_counts_and_reports(tmp_path, capsys):
    path = _write(tmp_path / "mixed.csv", "\tid\tsentence\tsentiment\n0\ta\tok\t1\n1\tb\t\t1\n2\tc\tfine\t9\n3\td\tgood\t4\n")
    examples, report = load_csv(path, TASKS["sst"], skip_bad_rows=True)
    assert [e.id for e in examples] == ["a", "d"]
    assert report.rows == 4 and [(ln, f) for ln, f, _ in report.skipped] == [(3, "sentence"), (4, "sentiment")]
    assert "2 skipped" in capsys.readouterr().err


def test_quora_split_is_deterministic_disjoint_and_by_hash(mini_data_dir):
    from quarbert_lib.core.data import Example
    examples = [Example(f"id{i}", "a", "b", i % 2) for i in range(2000)]
    train, dev = quora_hash_split(examples, 20)
    train2, dev2 = quora_hash_split(list(reversed(examples)), 20)
    assert {e.id for e in train} == {e.id for e in train2} and {e.id for e in dev} == {e.id for e in dev2}
    assert not {e.id for e in train} & {e.id for e in dev}
    assert len(train) + len(dev) == 2000 and 0.17 < len(dev) / 2000 < 0.23
    expected_dev = {e.id for e in examples if int(hashlib.sha1(e.id.encode()).hexdigest(), 16) % 100 < 20}
    assert {e.id for e in dev} == expected_dev


def test_load_task_uses_offline_split_only_when_train_is_absent(tmp_path, mini_data_dir):
    loaded = load_task("para", DataConfig(data_dir=str(mini_data_dir)))
    assert "quora-train.csv absent" in loaded.note and "SHA-1" in loaded.note
    assert len(loaded.splits["train"]) + len(loaded.splits["dev"]) == 40
    from conftest import make_mini_data
    full = make_mini_data(tmp_path / "full", quora_train=True)
    loaded = load_task("para", DataConfig(data_dir=str(full)))
    assert loaded.note == "" and len(loaded.splits["train"]) == 40 and len(loaded.splits["dev"]) == 40


def test_train_cap_is_a_fixed_subset(mini_data_dir):
    a = load_task("sst", DataConfig(data_dir=str(mini_data_dir), max_train_per_task=10)).splits["train"]
    b = load_task("sst", DataConfig(data_dir=str(mini_data_dir), max_train_per_task=10)).splits["train"]
    assert len(a) == 10 and [e.id for e in a] == [e.id for e in b]


def test_data_dir_resolution_order(tmp_path, monkeypatch, mini_data_dir):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QUARBERT_DATA", str(mini_data_dir))
    assert resolve_data_dir() == mini_data_dir
    other = tmp_path / "other"
    write_course_file_marker(other)
    assert resolve_data_dir(other) == other                  # the argument wins
    monkeypatch.setenv("QUARBERT_DATA", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="env QUARBERT_DATA"):
        resolve_data_dir()                                    # an explicit setting never falls through
    monkeypatch.delenv("QUARBERT_DATA")
    write_course_file_marker(tmp_path / "data")
    assert resolve_data_dir() == tmp_path / "data"            # then ./data


def write_course_file_marker(folder):
    folder.mkdir(parents=True, exist_ok=True)
    write_course_file(folder / "ids-sst-train.csv", ["id", "sentence", "sentiment"], [["x", "fine", 1]])


@pytest.fixture(scope="module")
def tokenizer(tiny_encoder_dir):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(tiny_encoder_dir)


def test_collate_single_siamese_and_cross(tokenizer):
    from quarbert_lib.core.data import Example
    sst = TaskData(TASKS["sst"], [Example("a", "good movie", label=3), Example("b", "bad", label=0)], tokenizer, 16)
    batch = sst.collate([0, 1])
    good, movie, bad = tokenizer.convert_tokens_to_ids(["good", "movie", "bad"])
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert batch["input_ids"].tolist() == [[cls, good, movie, sep], [cls, bad, sep, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert batch["labels"].tolist() == [3, 0] and batch["labels"].dtype == torch.long

    sts = TaskData(TASKS["sts"], [Example("p", "good movie", "bad", 2.5)], tokenizer, 16)
    siamese = sts.collate([0], "siamese")
    assert siamese["input_ids"].tolist() == [[cls, good, movie, sep]]
    assert siamese["input_ids_2"].tolist() == [[cls, bad, sep]]
    cross = sts.collate([0], "cross")
    assert cross["input_ids"].tolist() == [[cls, good, movie, sep, bad, sep]]
    assert cross["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1]]
    assert siamese["labels"].dtype == torch.float32


def test_cross_pairs_truncate_longest_first(tokenizer):
    from quarbert_lib.core.data import Example
    long = " ".join(["good"] * 20)
    data = TaskData(TASKS["para"], [Example("p", long, "bad movie", 1)], tokenizer, 10)
    row = data.collate([0], "cross")["input_ids"][0]
    assert len(row) == 10                                     # [CLS] 5 x good [SEP] bad movie [SEP]
    assert row.tolist()[-3:-1] == tokenizer.convert_tokens_to_ids(["bad", "movie"])


def test_batches_cover_every_row_once_and_are_seeded(tokenizer, mini_data_dir):
    loaded = load_task("sst", DataConfig(data_dir=str(mini_data_dir)))
    data = TaskData(loaded.spec, loaded.splits["train"], tokenizer, 32)
    a, b, c = data.batches(8, True, seed=1), data.batches(8, True, seed=1), data.batches(8, True, seed=2)
    assert sorted(i for batch in a for i in batch) == list(range(len(data)))
    assert a == b and a != c
    ordered = data.batches(8, shuffle=False)
    lengths = [data.lengths[i] for batch in ordered for i in batch]
    assert lengths == sorted(lengths, reverse=True)


def test_download_from_a_mirror(tmp_path, mini_data_dir):
    written = download(tmp_path / "got", base_url=mini_data_dir.as_uri() + "/")
    names = sorted(p.name for p in written)
    assert "ids-sst-train.csv" in names and "quora-dev.csv" in names
    assert "quora-train.csv" not in names                 # absent upstream here: reported, not fatal
    assert (tmp_path / "got" / "sts-dev.csv").read_bytes() == (mini_data_dir / "sts-dev.csv").read_bytes()
    with pytest.raises(OSError, match="could not download"):
        download(tmp_path / "none", base_url=(tmp_path / "nowhere").as_uri() + "/")


def test_a_download_without_internet_is_one_line_and_leaves_no_folder(tmp_path, monkeypatch, capsys):
    """`python -m quarbert_lib data download --dest data` offline was an OSError traceback and left an empty data/
    (the fresh-clone check of the docs' commands, stop 50): one line saying what to do instead."""
    from quarbert_lib.base import cli
    from quarbert_lib.core import data
    monkeypatch.chdir(tmp_path)
    closed = "http://127.0.0.1:9/"                                 # the discard port: nothing listens
    assert cli.run(data.main, ["download", "--dest", "data", "--base-url", closed]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: could not download {closed}ids-sst-train.csv ("), err
    assert "copy the course CSVs into a folder and set QUARBERT_DATA to it" in err[0]
    assert not (tmp_path / "data").exists()


def test_data_notes_print_once_per_process(tmp_path, capsys):
    path = _write(tmp_path / "twice.csv", "\tid\tsentence\tsentiment\n0\ta\tok\t1\n1\tb\t\t1\n")
    for _ in range(3):                                   # three runs of one notebook load the same file
        _, report = load_csv(path, TASKS["sst"], skip_bad_rows=True)
        assert len(report.skipped) == 1                  # each run still counts what it skipped
    assert capsys.readouterr().err.count("skipped malformed rows") == 1


@pytest.fixture
def course_server(mini_data_dir):
    """The course repository's data folder, served over HTTP on localhost from the mini data."""
    import functools
    import http.server
    import threading
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mini_data_dir))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def _no_data_anywhere(monkeypatch, tmp_path):
    from quarbert_lib.base import paths
    monkeypatch.delenv(paths.DATA_ENV, raising=False)
    monkeypatch.setattr(paths, "data_dir_candidates", lambda explicit=None: [("./data", tmp_path / "data")])


def test_missing_data_is_downloaded_from_the_course_repository(tmp_path, monkeypatch, course_server, mini_data_dir):
    from quarbert_lib.core.data import ensure_data
    _no_data_anywhere(monkeypatch, tmp_path)
    got = ensure_data(tmp_path / "data", base_url=course_server)
    assert got == tmp_path / "data"
    served = sorted(p.name for p in mini_data_dir.iterdir())
    assert sorted(p.name for p in got.iterdir()) == served      # quora-train.csv is absent there too
    for name in served:
        assert (got / name).read_bytes() == (mini_data_dir / name).read_bytes()


def test_offline_without_data_stops_before_any_compute(tmp_path, monkeypatch, capsys):
    from quarbert_lib.base import cli
    from quarbert_lib.batch import reproduce
    _no_data_anywhere(monkeypatch, tmp_path)
    monkeypatch.setattr(reproduce, "execute", lambda *a, **k: pytest.fail("a notebook ran without data"))
    closed = "http://127.0.0.1:9/"                                 # the discard port: nothing listens
    monkeypatch.setattr("quarbert_lib.core.data.COURSE_REPO_URL", closed)
    monkeypatch.setattr("quarbert_lib.core.data.ensure_data.__defaults__", (tmp_path / "data", closed))
    assert cli.run(reproduce.main, ["--profile", "smoke", "--only", "01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    line = err[-1]
    assert line.startswith("error: no course data found") and "QUARBERT_DATA" in line
    assert "python -m quarbert_lib data download" in line and "Traceback" not in "\n".join(err)
    assert not any((tmp_path / "data").glob("*.csv"))             # nothing half-downloaded left behind


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff", "\u00ad", "\u200d", " \u200b\u00ad "])
def test_a_sentence_of_invisible_characters_is_empty_as_the_tokenizer_sees_it(tmp_path, invisible):
    """The bug hunt's input: labelled sentences made only of invisible characters were kept even in strict mode and
    encoded as [CLS][SEP], while whitespace-only ones were rejected. Emptiness is judged as the tokenizer judges it
    (these characters are dropped: the packaged encoder's tokenizer gives [101, 102] for each); an unlabelled row
    is still answered."""
    path = _write(tmp_path / "sst.csv", f"\tid\tsentence\tsentiment\n0\ta\t{invisible}\t1\n1\tb\tfine \u200b\t3\n")
    with pytest.raises(DataError) as err:
        load_csv(path, TASKS["sst"])
    assert (err.value.line, err.value.field) == (2, "sentence") and "empty sentence" in err.value.reason
    examples, report = load_csv(path, TASKS["sst"], skip_bad_rows=True)
    assert [e.id for e in examples] == ["b"] and [(ln, f) for ln, f, _ in report.skipped] == [(2, "sentence")]
    test = _write(tmp_path / "test.csv", f"\tid\tsentence\n0\ta\t{invisible}\n")
    assert [e.id for e in load_csv(test, TASKS["sst"], has_labels=False)[0]] == ["a"]


@pytest.mark.parametrize("task, header, row", [
    ("para", "sentence1\tsentence2\tis_duplicate", "Why?\t{x}\t1.0"),
    ("sts", "sentence1\tsentence2\tsimilarity", "{x}\tA man sings.\t2.5")])
def test_a_pair_sentence_of_invisible_characters_is_empty_too(tmp_path, task, header, row):
    """The same kind in the pair files: either side of a pair made only of invisible characters is an empty
    sentence, named by its field."""
    field = "sentence2" if task == "para" else "sentence1"
    path = _write(tmp_path / f"{task}.csv", f"\tid\t{header}\n0\ta\t{row.format(x=chr(0x200b) + chr(0xad))}\n")
    with pytest.raises(DataError) as err:
        load_csv(path, TASKS[task])
    assert (err.value.line, err.value.field) == (2, field) and "empty sentence" in err.value.reason
