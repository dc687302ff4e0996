"""One comparison, one word: every (step, metric) that results.md, the README and the executed notebooks give a
verdict word carries the same word everywhere, the pre-registered analysis's (reports/tables/verdicts.csv)."""
import json
import re
from collections import defaultdict

import pandas as pd

from quarbert_lib.base.paths import REPO_ROOT
from quarbert_lib.reporting import verdicts
from quarbert_lib.study import spec

WORDS = "|".join(verdicts.VERDICTS)
SHORT = {"overall": "overall", "SST": "sst_acc", "QQP": "qqp_acc", "STS": "sts_pearson"}
def said_in_tables(text: str) -> list[tuple[str, str, str]]:
    """(step, metric, word) of every row of results.md's family tables ('| a -> b | question | metric | ... |
    **word** | ...')."""
    row = re.compile(r"^\| (?P<step>[\w.-]+ -> [\w.-]+) \| [^|]* \| (?P<metric>\w+) \|.*?\| \*\*(?P<w>" + WORDS + r")\*\* \|",
                     re.M)
    return [(m["step"], m["metric"], m["w"]) for m in row.finditer(text)]


def said_in_claims(text: str) -> list[tuple[str, str, str]]:
    """(step, metric, word) of the paper's-claims table's step rows: the claim opens with the question's label."""
    out = []
    for q in (q for q in spec.QUESTIONS if q.family == "paper"):
        for m in re.finditer(r"^\| " + re.escape(q.label) + r"[^|]*\| [^|]* \| [^|]* \| (?P<w>" + WORDS
                             + r") \| (?P<tasks>[^|]*) \|", text, re.M):
            out.append((q.step, "overall", m["w"]))
            out += [(q.step, SHORT[t], w) for t, w in re.findall(r"(SST|QQP|STS) (" + WORDS + ")", m["tasks"])]
    return out


def notebook_text(path) -> str:
    cells = json.loads(path.read_text())["cells"]
    parts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            parts.append("".join(data.get("text/markdown", "")) + "".join(output.get("text", "")))
    return "\n".join(parts)


def test_no_step_has_two_verdict_words_across_results_readme_and_notebooks():
    saved = pd.read_csv(REPO_ROOT / "reports" / "tables" / "verdicts.csv")
    truth = {(r.step, r.metric): r.verdict for r in saved.itertuples()}
    found = defaultdict(set)
    sources = {"results.md": (REPO_ROOT / "reports" / "results.md").read_text(),
               "README.md": (REPO_ROOT / "README.md").read_text(),
               **{p.name: notebook_text(p) for p in sorted((REPO_ROOT / "reports" / "executed").glob("*.ipynb"))}}
    counted = 0
    for name, text in sources.items():
        for step, metric, word in said_in_tables(text) + said_in_claims(text):
            found[(step, metric)].add((word, name))
            counted += 1
    assert counted > 3 * len(spec.QUESTIONS)        # the parsers read the documents (a test that cannot fail is a defect)
    for key, said in found.items():
        assert {w for w, _ in said} == {truth[key]}, (key, sorted(said))
    # every declared question's overall word is stated somewhere, once its rows have runs to pair (before that its
    # tables say "not trained yet", no word)
    paired = {(r.step, r.metric) for r in saved.itertuples() if r.pairs > 0}
    assert {(q.step, "overall") for q in spec.QUESTIONS if q.family != "paper-tasks"} & paired <= set(found)


def test_the_parsers_read_what_the_writers_write():
    """The two parsers against text the library writes, so the test above cannot pass by reading nothing."""
    from quarbert_lib.reporting import report
    analysis = verdicts.analyse(pd.DataFrame([{"variant": v, "seed": s, "overall": x + 0.001 * s * s * (v == "baseline-finetune"), "sst_acc": 0.4,
                                               "qqp_acc": 0.8, "sts_pearson": 0.8}
                                              for v, x in (("baseline-pretrain", 0.6), ("baseline-finetune", 0.7))
                                              for s in range(5)]))
    shown = report.questions_markdown("02_multitask_baseline", "cpu", "e", analysis)
    step = "baseline-pretrain -> baseline-finetune"
    assert sorted(said_in_tables(shown)) == sorted([(step, "overall", "helps"), (step, "sst_acc", "inconclusive"),
                                                    (step, "qqp_acc", "inconclusive"), (step, "sts_pearson", "inconclusive")])
    label = spec.QUESTIONS[0].label
    claim = f"| {label} improves the score | +0.088 | +0.071 | helps | SST inconclusive, QQP hurts, STS helps | open |"
    assert said_in_claims(claim) == [(spec.QUESTIONS[0].step, "overall", "helps"), (spec.QUESTIONS[0].step, "sst_acc", "inconclusive"),
                                     (spec.QUESTIONS[0].step, "qqp_acc", "hurts"), (spec.QUESTIONS[0].step, "sts_pearson", "helps")]
