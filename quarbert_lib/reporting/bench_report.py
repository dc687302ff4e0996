"""reports/benchmarks.md from the saved bench files, without measuring: the tables, the GPU
section, the reproduce time and best score, and the speed and quality targets judged against them."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..base.paths import discover, reports_dir, tables_dir
from ..study.results import atomic_write_text, read_json, read_table
from ..study.spec import TARGET_OVERALL
from ..study.tables import ablation_rows
from .report import markdown_table

INFER_FACTOR = 4   # inference sees 4x the training sample: several eval batches per task, as on a dev set
TARGETS = {"train_speedup": 3.0, "inference_speedup": 4.0, "floor_fraction": 0.40, "smart_k1": 2.5, "smart_k0": 2.0,
           "reproduce_minutes": 45.0, "best_overall": TARGET_OVERALL}
SECTIONS = ("throughput", "steps", "quartet")   # what `--only` can remeasure
RANDOM_BERT_BASE = "bert-base-uncased sizes, random weights"


def smart_pass_ratio(f: float, fb: float, fd: float, steps: int = 1) -> float:
    """A SMART step over a plain one, from the measured passes: f (forward), fb (forward +
    backward), fd (forward + backward to the embeddings). A plain step is f + b; SMART adds,
    per ascent step, a forward and a backward to the perturbation (fd), and then the adversarial
    forward and backward (fb): (fb + steps * fd + fb) / fb. Optimizer and batching are left out."""
    return (2 * fb + steps * fd) / fb


def table_names(device: str) -> tuple[str, str]:
    """(table, meta) file names under reports/tables: bench.csv for the CPU, bench_gpu.csv for a GPU."""
    return ("bench.csv", "bench_meta.json") if device == "cpu" else ("bench_gpu.csv", "bench_gpu_meta.json")


def reproduce_summary(profile: str = "cpu", encoder: str = "minilm-l6") -> dict:
    """The notebooks' minutes of `make reproduce` (reports/executed/summary.json: each notebook's last
    execution that changed its copy), summed once every notebook has an entry; the wall minutes of the registry's runs
    (run_costs.csv); and the best overall dev score of this profile in ablation.csv, quality_per_minute.csv and
    best_model.csv (the model notebook 13 chose on the calibration split)."""
    out = {}
    summary = reports_dir() / "executed" / "summary.json"
    if summary.exists():
        notebooks = json.loads(summary.read_text())
        out["reproduce_notebooks"] = ", ".join(f"{n['notebook'][:2]} {n['seconds'] / 60:.1f}" for n in notebooks)
        if {p.stem for p in discover()} <= {n["notebook"] for n in notebooks}:
            out["reproduce_minutes"] = sum(n["seconds"] for n in notebooks) / 60

    def mine(name: str) -> pd.DataFrame:
        table = read_table(name, profile, encoder)
        return pd.DataFrame(columns=["profile", "encoder"]) if table is None else table
    costs = mine("run_costs.csv")
    if len(costs):
        out["compute_minutes"], out["compute_runs"] = float(costs["wall_seconds"].sum()) / 60, len(costs)
    candidates = [(float(r.overall), r.variant) for r in ablation_rows(profile, encoder).itertuples()]
    candidates += [(float(r.overall), f"notebook 11: {r.recipe}, cap {r.cap}, epoch {r.epoch}, seed {r.seed}")
                   for r in mine("quality_per_minute.csv").itertuples()]
    best = mine("best_model.csv")
    candidates += [(float(r.overall), f"notebook 13: {r.model}, chosen on the calibration split")
                   for r in best[best["chosen"].astype(bool)].itertuples()] if "chosen" in best else []
    if candidates:
        out["best_overall"], out["best_variant"] = max(candidates)
    return out


def write_report(profile: str = "cpu", encoder: str = "minilm-l6") -> Path:
    """reports/benchmarks.md from the saved bench.csv and bench_meta.json (no measuring), with the
    current reproduce time and best score, and a GPU section when bench_gpu.csv exists."""
    meta = read_json(tables_dir() / "bench_meta.json")
    bench = pd.read_csv(tables_dir() / "bench.csv")
    text = benchmarks_markdown(pd.concat([bench[bench["section"] != "step"], step_rows(profile, encoder)],
                                         ignore_index=True), meta["machine"],
                               reproduce_summary(profile, encoder), meta["seconds"], meta["per_task"],
                               meta["reps"], meta.get("sections", SECTIONS), read_table("ensemble_cost.csv", profile, encoder))
    gpu_table, gpu_meta = (tables_dir() / name for name in table_names("gpu"))
    if gpu_table.exists() and gpu_meta.exists():
        text += "\n" + gpu_markdown(pd.read_csv(gpu_table), read_json(gpu_meta))
    out = reports_dir() / "benchmarks.md"
    atomic_write_text(out, text)
    return out


def step_rows(profile: str, encoder: str) -> pd.DataFrame:
    """The study's one measurement of step costs (costs.csv, the bench's and notebook 06's: bench.saved_step_costs),
    as the 'step' rows of the report: the measurement with the most timed steps of this profile and encoder."""
    costs = read_table("costs.csv", profile, encoder)
    if costs is None or costs.empty:
        return pd.DataFrame(columns=["section", "path", "what", "seconds_per_step", "relative"])
    costs = costs[costs["steps_timed"] == costs["steps_timed"].max()]
    return pd.DataFrame({"section": "step", "path": costs["variant"], "what": costs.get("what", ""),
                         "seconds_per_step": costs["seconds_per_step"], "relative": costs["relative"]})


def _get(df: pd.DataFrame, section: str, path: str, column: str) -> float:
    hit = df[(df["section"] == section) & (df["path"] == path)]
    return float(hit[column].iloc[0]) if len(hit) else float("nan")


def targets(df: pd.DataFrame, summary: dict) -> list[tuple[str, float, str, bool]]:
    """(what, measured, target, met) for each of the project's speed and quality targets."""
    train = _get(df, "train", "default", "sentences_per_s") / _get(df, "train", "naive", "sentences_per_s")
    infer = _get(df, "inference", "default", "sentences_per_s") / _get(df, "inference", "naive", "sentences_per_s")
    floor = _get(df, "train", "default", "floor_fraction")
    k1 = _get(df, "step", "advreg-only", "relative")          # SMART K=1 (AdvReg)
    k0 = _get(df, "step", "SMART K=0 (noise only, R3F)", "relative")
    t = TARGETS
    out = [("training throughput, default / naive", train, f">= {t['train_speedup']:g}x", train >= t["train_speedup"]),
           ("inference throughput, default / naive", infer, f">= {t['inference_speedup']:g}x", infer >= t["inference_speedup"]),
           ("default training step, share of its FLOP floor", floor, f">= {t['floor_fraction']:.0%}", floor >= t["floor_fraction"]),
           ("SMART K=1 step / plain step", k1, f"<= {t['smart_k1']:g}x", k1 <= t["smart_k1"]),
           ("SMART K=0 step / plain step", k0, f"<= {t['smart_k0']:g}x", k0 <= t["smart_k0"])]
    k1_off = _get(df, "step", "SMART K=1, adversarial passes without dropout", "relative")
    if not pd.isna(k1_off):
        out.append(("SMART K=1 step / plain step, adversarial passes without dropout (`smart.dropout='off'`)",
                    k1_off, f"<= {t['smart_k1']:g}x", k1_off <= t["smart_k1"]))
    m = summary.get("reproduce_minutes", float("nan"))   # NaN: some notebook was never executed
    out.append(("`make reproduce` (cpu) notebook minutes, each notebook's last execution that changed its copy", m,
                f"<= {t['reproduce_minutes']:g}", m <= t["reproduce_minutes"]))
    if "compute_minutes" in summary:
        c = summary["compute_minutes"]
        out.append((f"wall minutes of the {summary['compute_runs']} runs behind the reports (run_costs.csv), "
                    "a lower bound of a from-scratch reproduce", c, f"<= {t['reproduce_minutes']:g}",
                    c <= t["reproduce_minutes"]))
    if "best_overall" in summary:
        b = summary["best_overall"]
        out.append((f"best overall dev score ({summary['best_variant']})", b, f">= {t['best_overall']:g}", b >= t["best_overall"]))
    return out


def _fmt(x, f: str = "{:.2f}") -> str:
    return "" if pd.isna(x) else f.format(x)


def train_table(df: pd.DataFrame) -> str:
    naive = _get(df, "train", "naive", "sentences_per_s")
    return markdown_table(["path", "sentences/s", "x naive", "GFLOP/step", "FLOP floor reached", "what"],
                          [[r.path, _fmt(r.sentences_per_s, "{:.1f}"), _fmt(r.sentences_per_s / naive),
                            _fmt(r.gflop_per_step, "{:.1f}"), _fmt(r.floor_fraction, "{:.0%}"), r.note]
                           for r in df[df["section"] == "train"].itertuples()])


def inference_table(df: pd.DataFrame) -> str:
    naive = _get(df, "inference", "naive", "sentences_per_s")
    return markdown_table(["path", "sentences/s", "x naive", "what"],
                          [[r.path, _fmt(r.sentences_per_s, "{:.1f}"), _fmt(r.sentences_per_s / naive), r.note]
                           for r in df[df["section"] == "inference"].itertuples()])


def step_table(df: pd.DataFrame) -> str:
    steps = df[df["section"] == "step"]
    what = steps["what"].fillna("") if "what" in steps else pd.Series("", index=steps.index)
    return markdown_table(["step", "what", "seconds / step", "relative"],
                          [[r.path, w, _fmt(r.seconds_per_step, "{:.3f}"), _fmt(r.relative) + "x"]
                           for r, w in zip(steps.itertuples(), what)])


def pass_markdown(df: pd.DataFrame) -> list[str]:
    """The passes of a SMART step and the step ratios they predict (smart_pass_ratio)."""
    passes = df[df["section"] == "pass"].set_index("path")
    if not len(passes):
        return []
    s = passes["seconds"]
    f, fb, fd = s["forward"], s["forward + backward"], s["forward + backward to embeddings"]
    return ["### The passes a step is made of", "",
            markdown_table(["pass", "seconds", "x forward"],
                           [[p, _fmt(r.seconds, "{:.3f}"), _fmt(r.relative)] for p, r in passes.iterrows()]), "",
            f"From these passes, a SMART step should cost {smart_pass_ratio(f, fb, fd, 1):.2f} plain steps with K=1 "
            f"and {smart_pass_ratio(f, fb, fd, 0):.2f} with K=0 ((2 (forward + backward) + K (forward + backward "
            "to embeddings)) / (forward + backward)), before the optimizer step and batching, which every step "
            "pays once. The exact algorithm cannot go below this without dropping a pass.", ""]


def gpu_markdown(df: pd.DataFrame, meta: dict) -> str:
    """The GPU section of benchmarks.md: the same measurements on a lent card (never in CI)."""
    info, rates = meta["machine"], df[df["section"] == "gemm"]
    lines = [f"## On a GPU: {info.get('gpu')}", "",
             f"`python -m quarbert_lib bench --profile {meta.get('profile')}` with encoder {meta.get('encoder')}, "
             f"on a lent machine ({info['cores']} CPU cores, torch {info['torch']}), {meta['per_task']} training "
             f"examples per task (batch 16, the {meta.get('profile')} profile's) and {INFER_FACTOR * meta['per_task']} "
             f"for inference, median of {meta['reps']} passes; the run took {meta['seconds'] / 60:.1f} min.",
             "",
             ("The machine reaches no model hub, so the encoder is a BertModel with bert-base-uncased's sizes "
              "(12 layers, hidden 768, 110M parameters) and random weights, with the uncased BERT vocabulary: "
              "a step's speed does not depend on the weights' values. " if meta.get("encoder") == RANDOM_BERT_BASE
              else "") + "This section is measured only where a GPU is lent; CI never runs it.", "",
             "GEMM rates in the same run (8192 x 8192): " + ", ".join(
                 f"{r.path} {r.gflop_s / 1e3:.1f} TFLOP/s" for r in rates.itertuples()) + ".", "",
             "### Training paths", "", train_table(df), "", "### Inference", "", inference_table(df), "",
             "### Regularizer and LoRA steps against a plain step (all fp32)", "", step_table(df), ""] + pass_markdown(df)
    return "\n".join(lines)


def benchmarks_markdown(df: pd.DataFrame, info: dict, summary: dict, seconds: float, per_task: int, reps: int,
                        sections: list[str] = SECTIONS, serving: pd.DataFrame | None = None) -> str:
    lines = ["# Benchmarks", "", "Generated by `python -m quarbert_lib bench` (`make bench`); numbers in "
             "`reports/tables/bench.csv`, the step costs in `reports/tables/costs.csv` (the study's one measurement, "
             "which notebook 06 shows too). Do not edit by hand.", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, {info['threads']} torch threads, torch {info['torch']}, "
             f"Python {info['python']}" + (f", GPU {info['gpu']}" if info.get("gpu") else ", no GPU") + ". "
             f"Each figure is the median of {reps} passes after one warm-up pass, over the first {per_task} training "
             f"examples of each task for training (MiniLM, batch 16) and the first {INFER_FACTOR * per_task} for "
             f"inference; the last benchmark run ({', '.join(sections)}) took {seconds / 60:.1f} min.", "",
             f"GEMM rate measured in the same run: {_fmt(_get(df, 'gemm', 'fp32 matrix product', 'gflop_s'), '{:.1f}')} GFLOP/s "
             "(fp32, 1536 x 1536).", "", "## Training paths", "",
             train_table(df), "",
             "The FLOP floor is the step's matrix FLOPs (torch's FlopCounterMode, forward and backward) divided by "
             "the GEMM rate; padding to 128 multiplies the FLOPs, so the naive path can reach a larger share of "
             "a much larger floor.", "", "## Inference", "",
             inference_table(df), "",
             "## Regularizer and LoRA steps against a plain step", "",
             step_table(df), "",
             "In forward-pass units, a plain step is a forward and a backward pass (about 1 + 2). A SMART K=1 step "
             "adds one ascent pass (a forward and a backward to the perturbation only, about 1 + 1) and the "
             "adversarial pass the loss trains through (1 + 2): 8/3 = 2.67 plain steps before the per-step costs "
             "that do not grow (optimizer, batching). K=0 drops the ascent pass: 6/3 = 2.0. Measured passes "
             "replace that count below.", ""] + pass_markdown(df)
    if serving is not None and len(serving):
        lines += ["## Quartet inference (each setup in a fresh process, all four members' dev sets)", "",
                  "Notebook 08's measurement (`reports/tables/ensemble_cost.csv`), the study's one: tensor memory counts "
                  "shared storage once; RSS growth is the process's view, blurred by the allocator.", "",
                  markdown_table(["setup", "inference s", "parameters held", "tensor MB held", "RSS growth MB"],
                                 [[r.setup, _fmt(r.inference_seconds, "{:.1f}"), f"{int(r.params_held):,}",
                                   _fmt(r.tensor_mb, "{:.0f}"), _fmt(r.rss_models_mb, "{:.0f}")]
                                  for r in serving.itertuples()]), ""]
    adapters = df[df["section"] == "adapters"]
    if len(adapters):
        lines += ["## The LoRA quartet on one backbone: switching adapters or mixed-adapter batches", "",
                  "The first 256 dev rows of each task, each row predicted by every member that has the task.", "",
                  markdown_table(["mode", "seconds", "sentences/s"],
                                 [[r.path, _fmt(r.seconds), _fmt(r.sentences / r.seconds, "{:.1f}")]
                                  for r in adapters.itertuples()]), ""]
    lines += ["## Targets", "",
              markdown_table(["target", "measured", "wanted", "met"],
                             [[w, _fmt(m, "{:.3f}"), t, "yes" if ok else "no"] for w, m, t, ok in targets(df, summary)]), ""]
    if "reproduce_notebooks" in summary:
        lines += [f"`make reproduce`, minutes per notebook: {summary['reproduce_notebooks']} "
                  "(reports/executed/summary.json: each notebook's last execution that changed its executed copy; one "
                  "that reproduces a copy byte for byte keeps the entry of the batch that made it). The target is "
                  "judged only once every notebook has an entry; the notebooks' minutes leave out restoring the "
                  "records and planning, and finished runs are skipped through the registry, so a rerun is faster "
                  "than a first run.", ""]
    return "\n".join(lines)
