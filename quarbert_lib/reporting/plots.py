"""Figures from saved results (reports/tables/*.csv, runs/*/history.csv), never from training."""
from __future__ import annotations

import functools
import itertools
import json
import textwrap
from pathlib import Path

from contextlib import contextmanager

# no backend is forced: a script or a test without a display gets matplotlib's Agg, a notebook kernel its inline
# backend (a student's own plt.plot shows in the notebook)
import matplotlib.patches
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from adjustText import adjust_text
from IPython.display import Image, display
from matplotlib.text import Text

from ..base.notebook import in_kernel
from ..base.paths import figures_dir
from ..base.tasks import TASKS, metric_labels, study_columns
from ..core.evaluate import confusion, expected_calibration_error
from ..study.results import rounded, run_stem
from ..study.spec import CONTROLS
from .report import paper_dev

# Whether a figure drawn inside a notebook kernel is shown in the notebook as it is saved (quiet() turns it off).
SHOW_INLINE = True


def label_boxes(fig, ax) -> list:
    """Window boxes of the axes' text labels (for tests: no two may overlap)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [Text.get_window_extent(t, renderer) for t in ax.texts if t.get_text()]


@contextmanager
def quiet():
    """Figures drawn inside are saved, not shown (a batch rebuild of every figure, as notebook 09's)."""
    global SHOW_INLINE
    before, SHOW_INLINE = SHOW_INLINE, False
    try:
        yield
    finally:
        SHOW_INLINE = before


def from_tables(draw):
    """Draw from the tables as they are saved: every DataFrame argument at the precision results.write_csv writes
    (results.rounded), so a figure a notebook draws from its frame and the same figure redrawn from the saved CSV
    (`make figures`, notebook 09) are the same bytes, on any machine."""
    @functools.wraps(draw)
    def drawn(*args, **kwargs):
        args = [rounded(a) if isinstance(a, pd.DataFrame) else a for a in args]
        kwargs = {k: rounded(v) if isinstance(v, pd.DataFrame) else v for k, v in kwargs.items()}
        return draw(*args, **kwargs)
    return drawn


def _save(fig, name: str) -> Path:
    """Save the figure under figures_dir(); inside a notebook kernel, also show the saved PNG, bytes as on disk, in
    the cell's output (its metadata names the file), and close the figure so the inline backend does not show it a
    second time."""
    path = figures_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    if SHOW_INLINE and in_kernel():
        display(Image(data=path.read_bytes(), format="png"), metadata={"figure": name})
        plt.close(fig)
    return path


@from_tables
def ablation_bars(table: pd.DataFrame, name: str = "ablation.png", variants: list[str] | None = None,
                  paper: dict | None = None):
    """Grouped bars: one group per variant, one bar per dev metric, std over seeds as error bars, the
    paper's Table 2 value (``paper``: {variant: {metric: value}}; None reads report.paper_dev()) as a
    black dash. The y axis is zoomed to the values shown; rows of a single seed are labelled so."""
    paper = paper_dev() if paper is None else paper
    df = (table if variants is None else table[table["variant"].isin(variants)]).reset_index(drop=True)
    long = df.melt(id_vars=["variant"], value_vars=list(metric_labels()), var_name="metric", value_name="dev")
    long["metric"] = long["metric"].map(metric_labels())
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(df), 3.8))
    sns.barplot(long, x="variant", y="dev", hue="metric", ax=ax)
    shown, labelled = list(long["dev"].dropna()), False
    for i, row in df.iterrows():
        n = len(metric_labels())
        for j, metric in enumerate(metric_labels()):
            x = i + (j - (n - 1) / 2) * 0.8 / n          # seaborn's dodge: n hues share 0.8 of a group
            std = row.get(f"{metric}_std")
            if pd.notna(std):
                ax.errorbar(x, row[metric], yerr=std, color="k", capsize=2, lw=1)
            value = paper.get(row["variant"], {}).get(metric)
            if value is not None and pd.notna(value):
                ax.scatter(x, value, marker="_", s=150, color="black", linewidths=2, zorder=3,
                           label=None if labelled else "paper (bert-base, Table 2)")
                labelled, shown = True, shown + [value]
        if int(row.get("seeds", 1)) == 1:
            ax.annotate("1 seed", (i, max(row[m] for m in metric_labels())), textcoords="offset points", xytext=(0, 8),
                        ha="center", fontsize=7, color="dimgray")
    lo, hi = min(shown), max(shown)
    ax.set_ylim(max(0.0, lo - 0.05), min(1.0, hi + 0.05))
    # a long row name (baseline-finetune-natural) is wider than its group: broken at a hyphen, two names of
    # neighbouring groups do not touch
    ax.set_xticks(range(len(df)), ["\n".join(textwrap.wrap(v, 12, break_long_words=False)) for v in df["variant"]])
    ax.set_xlabel("")
    ax.set_ylabel("dev score (bars: seed mean; error bars: std)")
    # the legend stands right of the axes: above them, a five-entry legend is wider than a two-row figure and
    # covered the title
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    # controls (spec.CONTROLS) are rows of the study but not steps of its ladder
    kind = "ladder rows" if not set(df["variant"]) & set(CONTROLS) else "rows"
    ax.set_title(f"Dev scores of the {kind} ({_rows_caption(df)})", fontsize=9)
    _save(fig, name)
    return fig


def _rows_caption(df: pd.DataFrame) -> str:
    """'cpu profile, minilm-l6; seeds 0 1 2 (1-seed rows: seed 0)' from table rows with profile/encoder/seed_list."""
    parts = [", ".join(sorted(set(df[c].astype(str)))) + (" profile" if c == "profile" else "")
             for c in ("profile", "encoder") if c in df and len(df)]
    if "seed_list" in df and len(df):
        parts.append("seeds " + " / ".join(sorted(set(df["seed_list"].astype(str)), key=len, reverse=True)))
    elif "seeds" in df and len(df):
        parts.append("seeds per row: " + ", ".join(sorted(set(df["seeds"].astype(int).astype(str)))))
    return "; ".join(parts)


@from_tables
def single_task_bars(table: pd.DataFrame, name: str = "single_task.png"):
    fig, ax = plt.subplots(figsize=(5, 3.4))
    sns.barplot(table, x="task", y="dev_acc", hue="mode", ax=ax)
    ax.set_ylim(0, 1)
    ax.set_ylabel("dev accuracy")
    ax.set_title(f"Single task: frozen (pretrain) vs fine-tuned encoder ({_rows_caption(table)})", fontsize=8)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.3f", fontsize=8)
    _save(fig, name)
    return fig


# the loss a task's head trains with, by its kind (base.tasks.TaskSpec.kind)
_KIND_LOSS = {"classify": "cross-entropy", "binary": "binary cross-entropy", "regress": "loss"}
# history.csv's per-task column (core.train logs the objective on each task's batches) -> its panel's title: the
# objective is the task's loss plus whatever regularizer terms the run adds (SMART, MBPP, R-Drop), so a
# regularized run's curve sits above a plain one's by its penalty, not by fitting worse
_TASK_LOSS = {f"loss_{name}": f"{spec.short or name.upper()} {_KIND_LOSS[spec.kind]}\n(+ any regularizer's terms)"
              for name, spec in TASKS.items()}


def run_caption(run_dirs: dict[str, Path]) -> str:
    """'cpu profile, seeds 0, 1, 2' from the runs' metrics.json (or config.json while a run is unfinished)."""
    profiles, seeds = set(), set()
    for run_dir in run_dirs.values():
        for name in ("metrics.json", "config.json"):
            path = Path(run_dir) / name
            if path.exists():
                m = json.loads(path.read_text())
                profiles.add(m.get("profile", ""))
                seed = m.get("seed", m.get("train", {}).get("seed"))
                if seed is not None:
                    seeds.add(int(seed))
                break
    return f"{', '.join(sorted(p for p in profiles if p))} profile, seed{'s' if len(seeds) != 1 else ''} " \
           f"{', '.join(map(str, sorted(seeds)))}"


@from_tables
def training_curves(run_dirs: dict[str, Path], name: str):
    """One panel per task's training objective against step (each task's own loss, cross-entropy, BCE and MSE not
    being on one scale, plus the run's regularizer terms on that task's batches), one thin line per run in its
    row's colour (a row: the run name without its seed); then the dev scores: each row's mean over its seeds against step when runs were evaluated more than once, else each
    row's final SST / QQP / STS as bars, mean with the seeds' std (never a panel of single dots). One legend for the
    figure, a row and its seed count an entry; runs that logged no per-task loss are named in the title."""
    histories = {label: pd.read_csv(Path(d) / "history.csv") for label, d in run_dirs.items()
                 if (Path(d) / "history.csv").exists()}
    loss_columns = [c for c in _TASK_LOSS if any(c in h for h in histories.values())] or ["loss"]
    evals = {label: h[h["kind"] == "eval"] for label, h in histories.items()}
    over_steps = any(len(e) > 1 for e in evals.values())
    row_of = {label: run_stem(label) for label in histories}
    rows = list(dict.fromkeys(row_of.values()))
    colors = dict(zip(rows, sns.color_palette(n_colors=max(1, len(rows)))))
    fig, axes = plt.subplots(1, len(loss_columns) + 1, figsize=(3.6 * (len(loss_columns) + 1), 3.4), squeeze=False)
    axes = axes[0]
    unlogged = [label for label, h in histories.items() if not any(c in h and h[c].notna().any() for c in loss_columns)]
    for ax, column in zip(axes, loss_columns):
        for label, h in histories.items():
            train = h[h["kind"] == "train"]
            if column in train and train[column].notna().any():
                ax.plot(train["step"], train[column], color=colors[row_of[label]], lw=1, alpha=0.7)
        ax.set(xlabel="optimizer step", ylabel="training objective, mean over 25 steps")
        ax.set_title(_TASK_LOSS.get(column, "training loss (all tasks' steps)"), fontsize=10)
    if not any(ax.lines for ax in axes[:-1]):     # runs shorter than one logging interval log no training loss
        axes[0].text(0.5, 0.5, "no training loss logged\n(fewer steps than one logging interval)",
                     ha="center", va="center", transform=axes[0].transAxes, fontsize=8)
    right = axes[-1]
    if over_steps:
        for row in rows:
            frames = [e[["step", "score"]] for label, e in evals.items() if row_of[label] == row]
            mean = pd.concat(frames).groupby("step")["score"].mean()
            right.plot(mean.index, mean.values, marker="o", ms=3, color=colors[row])
        right.set(xlabel="optimizer step", ylabel="dev mean score (mean over seeds)", title="dev score during training")
    else:
        skip = {"kind", "epoch", "step", "loss", "train_seconds", "score"}
        metrics = list(dict.fromkeys(c for e in evals.values() for c in e.columns
                                     if c not in skip and not c.startswith(("loss_", "train_")) and e[c].notna().any()))
        width = 0.8 / max(1, len(rows))
        for i, row in enumerate(rows):
            finals = pd.DataFrame([{c: float(e[c].iloc[-1]) if len(e) and c in e else float("nan") for c in metrics}
                                   for label, e in evals.items() if row_of[label] == row])
            right.bar([m + i * width for m in range(len(metrics))], finals.mean().values, width,
                      yerr=finals.std().fillna(0).values if len(finals) > 1 else None, capsize=2, color=colors[row])
        right.set_xticks([m + 0.4 - width / 2 for m in range(len(metrics))],
                         [{TASKS[t].metric_name: TASKS[t].label for t in TASKS}.get(c, c) for c in metrics])
        right.set(ylabel="dev score (mean over seeds)", title="dev scores at the end", ylim=(0, 1))
    seeds = {row: sum(1 for label in row_of if row_of[label] == row) for row in rows}
    handles = [plt.Line2D([], [], color=colors[r], lw=2, label=f"{r} ({seeds[r]} run{'s' if seeds[r] > 1 else ''})")
               for r in rows]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    missing = f"; no per-task loss logged by {', '.join(unlogged)}" if unlogged and len(unlogged) < len(histories) else ""
    fig.suptitle(f"{Path(name).stem.replace('_', ' ')} ({run_caption(run_dirs)}{missing})", fontsize=9)
    fig.tight_layout(rect=(0, 0.08 + 0.04 * ((len(handles) - 1) // 4), 1, 1))
    _save(fig, name)
    return fig


@from_tables
def learning_curves(curves: pd.DataFrame, name: str = "regime_curves.png", base: str = "plain", x: str = "epoch",
                    target: tuple[float, str] | None = None):
    """The dev score per epoch (tables.learning_curve rows of several recipes and seeds), one column per study task
    and one for the overall score, each point the mean over seeds at an epoch's end, its error bar their std; and,
    where the runs had a training probe, a second row with the train-dev gap (the probe's score minus dev). Dev and
    the gap each get their own axis (on one axis with the training scores near 1, dev's differences between recipes
    were flattened). ``base`` (the recipe the others are set against) is black. ``x``: 'epoch' (the recipes stand a
    little apart along it, dodged, so their error bars at one epoch do not hide each other) or 'train_minutes' (each
    epoch's end at its mean training minutes, their std as a horizontal bar). ``target``: (score, label), a dashed
    line on the overall panel."""
    columns = [*study_columns(), "overall"]
    labels = {**metric_labels(), "overall": "overall"}
    probe = any(curves.get(f"gap_{c}", pd.Series(dtype=float)).notna().any() for c in columns)
    fig, axes = plt.subplots(1 + probe, len(columns), figsize=(3.2 * len(columns), 2.8 * (1 + probe) + 0.4 * (not probe)),
                             squeeze=False, sharex=True)
    recipes = list(dict.fromkeys(curves["variant"]))
    others = iter(sns.color_palette(n_colors=max(1, len(recipes))))
    colors = {r: "black" if r == base else next(others) for r in recipes}
    dodge = {r: (i - (len(recipes) - 1) / 2) * 0.07 if x == "epoch" else 0.0 for i, r in enumerate(recipes)}
    for j, column in enumerate(columns):
        for recipe in recipes:
            by_epoch = curves[curves["variant"] == recipe].groupby("epoch")
            where = by_epoch[x].mean() + dodge[recipe] if x != "epoch" else by_epoch[column].mean().index + dodge[recipe]
            spread = by_epoch[x].std() if x != "epoch" else None
            for ax, values in ((axes[0][j], by_epoch[column]), *(((axes[1][j], by_epoch[f"gap_{column}"]),) if probe else ())):
                ax.errorbar(where, values.mean(), yerr=values.std(), xerr=spread, color=colors[recipe], marker="o", ms=3,
                            capsize=2, lw=1.2)
            if x != "epoch":            # which epoch each point ends, on the minutes axis
                for epoch, (px, py) in enumerate(zip(where, by_epoch[column].mean()), start=1):
                    axes[0][j].annotate(f"ep {epoch}", (px, py), textcoords="offset points", xytext=(3, 3), fontsize=7,
                                        color=colors[recipe])
        axes[0][j].set_title(f"{labels[column]}: dev", fontsize=9)
        if probe:
            axes[1][j].set_title(f"{labels[column]}: gap (train - dev)", fontsize=9)
            axes[1][j].axhline(0, color="0.5", lw=0.6)
        axes[-1][j].set(xlabel="epoch" if x == "epoch" else "training minutes (epoch ends)")
        if x == "epoch":
            axes[-1][j].set(xticks=sorted(curves["epoch"].unique()))
    if target is not None:
        axes[0][-1].axhline(target[0], linestyle="--", linewidth=0.8, color="black")
        low, high = axes[0][-1].get_ylim()         # the line at most 9/10 up: room for its label inside the panel
        axes[0][-1].set_ylim(low, max(high, low + (target[0] - low) / 0.9))
        axes[0][-1].annotate(target[1], xy=(0.02, target[0]), xycoords=("axes fraction", "data"), fontsize=7,
                             va="bottom")
    axes[0][0].set_ylabel("dev score")
    if probe:
        axes[1][0].set_ylabel("training probe - dev")
    handles = [plt.Line2D([], [], color=colors[r], marker="o", ms=3, label=r) for r in recipes]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    seeds = curves.groupby("variant")["seed"].nunique()
    count = f"{seeds.min()}-{seeds.max()} seeds" if seeds.min() != seeds.max() else \
        f"{seeds.min()} seed{'s' if seeds.min() > 1 else ''}"
    what = "Dev score and train-dev gap per epoch" if probe else "Dev score at each epoch's end"
    fig.suptitle(f"{what} ({count} a recipe; mean over seeds, error bars: std)", fontsize=9)
    fig.tight_layout(rect=(0, 0.06 if not probe else 0.04, 1, 1))
    _save(fig, name)
    return fig


@from_tables
def sweep_lines(table: pd.DataFrame, x: str, name: str, logx: bool = True, title: str = "",
                marks: pd.DataFrame | None = None, reference: float | None = None,
                paper_x: tuple[float, str] | None = None, reference_label: str = "overall without SMART"):
    """Per-task dev metric against one hyperparameter (the paper's Figure 3 for lambda). ``marks``:
    rows with the same columns plus ``*_std`` (e.g. the ladder row's seeds) drawn as error bars."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for (metric, label), color in zip(metric_labels().items(), sns.color_palette()):
        ax.plot(table[x], table[metric], marker="o", label=label, color=color)
        for r in (marks.to_dict("records") if marks is not None else []):
            ax.errorbar(r[x], r[metric], yerr=r.get(f"{metric}_std"), color=color, capsize=3, marker="s", ms=4)
    if paper_x is not None:            # (value, label): the setting the paper reports as best
        ax.axvline(paper_x[0], linestyle=":", color="black", linewidth=1)
        ax.annotate(paper_x[1], xy=(paper_x[0], 0.02), xycoords=("data", "axes fraction"), fontsize=7, rotation=90,
                    ha="right", va="bottom")
    if reference is not None:          # the overall score of a reference run, dashed in overall's color
        ax.axhline(reference, linestyle="--", linewidth=1, color=sns.color_palette()[len(metric_labels()) - 1],
                   label=f"{reference_label} ({reference:.3f})")
    if logx:
        ax.set_xscale("log")
    ax.set_xticks(list(table[x]), [f"{v:g}" for v in table[x]])
    ax.set(xlabel=x, ylabel="dev score")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)   # beside: no line hidden
    _save(fig, name)
    return fig


@from_tables
def smart_strength(table: pd.DataFrame, name: str = "smart_strength.png", threshold: float | None = None):
    """SMART's gradient over the task loss's against the perturbation's size, log-log, one line per
    convention and space (mean over tasks), one panel per dropout mode present."""
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    mean = table.groupby(["convention", "space", "size"], as_index=False)["grad_ratio"].mean()
    for (convention, space), df in mean.groupby(["convention", "space"]):
        size = "epsilon" if convention == "project" else "radius"
        ax.plot(df["size"], df["grad_ratio"], marker="o", label=f"{convention} / {space} ({size})")
    if threshold:
        ax.axhline(threshold, linestyle="--", color="black", linewidth=0.8)
        ax.annotate("inert below (the guard)", xy=(0.01, threshold), xycoords=("axes fraction", "data"),
                    fontsize=7, va="bottom")
    ax.set(xscale="log", yscale="log", xlabel="perturbation size (epsilon, or radius per token)",
           ylabel="||grad SMART|| / ||grad task loss||")
    ax.set_title("SMART's strength at the start of training (mean over tasks, lambda_s = 5, K = 1"
                 + (f"; {_rows_caption(table)}, each task's first batch)" if len(table) else ")"), fontsize=8)
    ax.legend(fontsize=7)
    _save(fig, name)
    return fig


# adjustText's iterations for quality_per_minute's labels: a fixed number (its default, a one-second time limit,
# would place them differently on a slower or busier machine); 150 settle the study's 30 labels in ~15 s here
ITERATIONS = 150


@from_tables
def quality_per_minute(budget: pd.DataFrame, ladder: pd.DataFrame | None = None, name: str = "quality_per_minute.png",
                       targets: dict[str, float] | None = None):
    """Overall dev score against training minutes: one line per recipe over its data caps (and
    epochs: 'all, ep 2'), the ladder rows as grey points with their seed std (controls, spec.CONTROLS, left out:
    they answer another question), and horizontal reference lines (``targets``: {label: score}). The point
    labels are placed by adjustText (clear of each other, the points, the error bars, the lines and the legend;
    a fixed number of iterations, not its default time limit, so the figure is the same on every run)."""
    fig, ax = plt.subplots(figsize=(8.0, 5.4))
    texts, points = [], []
    for recipe, df in budget.groupby("recipe", sort=False):
        df = df.sort_values("train_minutes")
        line, = ax.plot(df["train_minutes"], df["overall"], marker="o", label=recipe)
        # a multi-epoch recipe's points differ by epoch only: "ep N" (its cap, all, is in the caption)
        one_epoch = "epoch" not in df or df["epoch"].nunique() == 1
        for r in df.itertuples():
            texts.append(ax.text(r.train_minutes, r.overall, str(r.cap) if one_epoch else f"ep {r.epoch}",
                                 fontsize=7, color=line.get_color()))
        # the labels keep off the line between the points too (sampled evenly along it in log minutes)
        for (x0, y0), (x1, y1) in itertools.pairwise(zip(df["train_minutes"], df["overall"])):
            points += [(x0 * (x1 / x0) ** f, y0 + (y1 - y0) * f) for f in (i / 6 for i in range(6))]
        points.append((df["train_minutes"].iloc[-1], df["overall"].iloc[-1]))
    ladder = None if ladder is None else ladder[~ladder["variant"].isin(CONTROLS)]
    if ladder is not None and len(ladder):
        spread = ladder["overall_std"] if "overall_std" in ladder else None
        ax.errorbar(ladder["train_seconds"] / 60, ladder["overall"], yerr=spread, fmt="o", color="grey", ms=3.5,
                    capsize=2, lw=0.8, label="ladder rows (seed mean ± std)")
        for r in ladder.itertuples():
            texts.append(ax.text(r.train_seconds / 60, r.overall, r.variant, fontsize=6.5, color="0.35"))
        # and off each ladder row's point and error bar (its ends and middle)
        for r in ladder.itertuples():
            std = getattr(r, "overall_std", 0.0) if spread is not None and pd.notna(getattr(r, "overall_std", None)) else 0.0
            points += [(r.train_seconds / 60, r.overall + k * std / 2) for k in (-2, -1, 0, 1, 2)]
    fixed = []
    for label, score in (targets or {}).items():
        ax.axhline(score, linestyle="--", linewidth=0.8, color="black")
        fixed.append(ax.annotate(label, xy=(0.01, score), xycoords=("axes fraction", "data"), textcoords="offset points",
                                 xytext=(0, 1), fontsize=7, va="bottom"))
    ax.set_xscale("log")
    ax.margins(x=0.08, y=0.06)
    ax.set(xlabel="training minutes on this machine (log scale)", ylabel="overall dev score")
    profile = budget["profile"].iloc[0] if "profile" in budget and len(budget) else ""
    seeds = sorted({int(s) for s in budget["seed"]}) if "seed" in budget else []
    ax.set_title(f"Quality per CPU-minute ({profile} profile, seed {', '.join(map(str, seeds))}; ladder rows: "
                 "mean over their seeds)", fontsize=9)
    legend = ax.legend(fontsize=7, loc="lower right")
    if texts:
        # and off the dashed reference lines
        lo, hi = ax.get_xlim()
        points += [(lo * (hi / lo) ** (i / 20), score) for score in (targets or {}).values() for i in range(21)]
        # a marker is a disc, not its centre: each point repels from the corners and sides of a 16-pixel square around it
        fig.canvas.draw()
        pixels = ax.transData.transform(points)
        x, y = ax.transData.inverted().transform(
            [(px + dx, py + dy) for px, py in pixels for dx, dy in ((0, 0), (-8, -8), (-8, 8), (8, -8), (8, 8), (-8, 0), (8, 0), (0, -8), (0, 8))]).T
        adjust_text(texts, x=x, y=y, objects=[legend, *fixed], ax=ax, iter_lim=ITERATIONS,
                    expand=(1.15, 1.4), arrowprops=dict(arrowstyle="-", color="0.5", lw=0.4))
        _snap(ax, texts)
    _save(fig, name)
    return fig


def _snap(ax, texts: list, step: float = 0.01) -> None:
    """Each label moved to the nearest ``step`` of a display pixel: adjustText's placement moves in the last digits
    with its inputs' (another CPU's sums), and a label or its arrow that lands on a pixel's edge then draws other
    pixels; snapped, the figure is the same wherever the placement lands within a hundredth of a pixel."""
    to_data = ax.transData.inverted()
    for text in texts:
        px, py = ax.transData.transform(text.get_position())
        text.set_position(to_data.transform((round(px / step) * step, round(py / step) * step)))


@from_tables
def grid_heatmap(table: pd.DataFrame, rows: str, cols: str, value: str, name: str, title: str = ""):
    """A value over a 2-D grid of settings (the paper's Table 3: learning rate x dropout)."""
    grid = table.pivot(index=rows, columns=cols, values=value)
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    sns.heatmap(grid, annot=True, fmt=".3f", cmap="viridis", ax=ax)
    ax.set_title(title or value, fontsize=9)
    _save(fig, name)
    return fig


@from_tables
def prediction_distributions(predictions: pd.DataFrame, name: str = "prediction_distributions.png", title: str = ""):
    """The paper's Figure 4 and more, from dev predictions: SST predicted vs true label counts and the confusion
    matrix (evaluate.confusion); the paraphrase probability of true duplicates and of non-duplicates; STS
    predicted vs true scores, unclipped (a linear head can predict outside the labels' 0-5 range, drawn as
    dashed lines; Pearson r is computed from these raw scores)."""
    sst, para, sts = (predictions[predictions["task"] == t] for t in ("sst", "para", "sts"))
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.2), layout="constrained")
    (counts, confusion_ax), (probs, scores) = axes
    if len(sst):
        labels = range(5)
        gold = sst["gold"].astype(int).value_counts().reindex(labels, fill_value=0)
        pred = sst["prediction"].astype(int).value_counts().reindex(labels, fill_value=0)
        counts.bar([x - 0.2 for x in labels], gold, width=0.4, label="true")
        counts.bar([x + 0.2 for x in labels], pred, width=0.4, label="predicted")
        counts.set(xlabel="SST label (0 very negative ... 4 very positive)", ylabel="dev sentences",
                   title=f"SST label distribution ({len(sst)} sentences)")
        counts.legend(fontsize=8)
        sns.heatmap(confusion(sst, "sst"), annot=True, fmt="d", cmap="Blues", ax=confusion_ax, cbar=False)
        confusion_ax.set(xlabel="predicted", ylabel="true", title="SST confusion matrix (rows: true label)")
    if len(para):
        bins = [i * 0.05 for i in range(21)]
        for label, text in ((0, "not duplicates"), (1, "duplicates")):
            probs.hist(para.loc[para["gold"].astype(int) == label, "prob"], bins=bins, alpha=0.6,
                       label=f"true {text} ({int((para['gold'].astype(int) == label).sum())})")
        probs.axvline(0.5, color="0.3", lw=1, ls="--", label="decision threshold 0.5")
        probs.set(xlabel="predicted paraphrase probability", ylabel="dev pairs",
                  title=f"Quora paraphrase probability by true label ({len(para)} pairs)")
        probs.legend(fontsize=8, loc="upper center")
    if len(sts):
        predicted = sts["prediction"].astype(float)
        low, high = min(0.0, float(predicted.min())), max(5.0, float(predicted.max()))
        bins = [low + i * 0.25 for i in range(int((high - low) / 0.25) + 2)]
        scores.hist(sts["gold"].astype(float), bins=bins, alpha=0.6, label="true")
        outside = int(((predicted < 0) | (predicted > 5)).sum())
        scores.hist(predicted, bins=bins, alpha=0.6, label=f"predicted ({outside} outside 0-5)")
        for edge in (0, 5):
            scores.axvline(edge, color="0.3", lw=1, ls="--")
        scores.set(xlabel="STS score (dashed: the labels' range)", ylabel="dev pairs",
                   title=f"STS score distribution ({len(sts)} pairs)")
        scores.legend(fontsize=8, loc="upper left")
    for ax in axes.flat:
        if not ax.has_data():
            ax.set_axis_off()
    if title:
        fig.suptitle(title)
    _save(fig, name)
    return fig


_VERDICT_COLOURS = {"helps": "#1a7f37", "hurts": "#cf222e", "equivalent": "#0969da", "inconclusive": "#6e7781"}


@from_tables
def step_effects(table: pd.DataFrame, name: str = "step_effects.png", metric: str = "overall"):
    """The study at a glance: one row per question (a verdicts.analyse table), its effect on ``metric`` (the mean
    seed-paired difference) with its adjusted interval, coloured by its verdict; the grey band is the margin (the
    smallest effect of interest), crosses are the paper's effect for the same step."""
    rows = table[table["metric"] == metric].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.6))
    y = list(range(len(rows)))[::-1]                            # the first step on top
    margin = float(rows["margin"].iloc[0]) if len(rows) else 0.0
    ax.axvspan(-margin, margin, color="0.9", zorder=0, label=f"margin ±{margin:g}")
    ax.axvline(0, color="0.4", lw=0.8, zorder=1)
    for yi, r in zip(y, rows.itertuples()):
        colour = _VERDICT_COLOURS.get(r.verdict, "black")
        if not pd.isna(r.ci_low):
            ax.plot([r.ci_low, r.ci_high], [yi, yi], color=colour, lw=2.5, solid_capstyle="butt", zorder=2)
        ax.plot(r.effect, yi, "o", color=colour, ms=7, zorder=3)
        if not pd.isna(r.paper_effect):
            ax.plot(r.paper_effect, yi, "x", color="black", ms=7, mew=1.5, zorder=3)
    said = [v if n else "not trained yet" for v, n in zip(rows["verdict"], rows["pairs"])]
    ax.set_yticks(y, [f"{s}\n({v})" for s, v in zip(rows["step"], said)], fontsize=8)
    handles = [plt.Line2D([], [], color=c, marker="o", lw=2.5, label=v) for v, c in _VERDICT_COLOURS.items()]
    handles += [plt.Line2D([], [], color="black", marker="x", lw=0, label="paper's effect"),
                matplotlib.patches.Patch(color="0.9", label=f"margin ±{margin:g}")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.set_xlabel(f"effect on {metric_labels().get(metric, metric)} (after - before, mean seed-paired difference, "
                  "adjusted interval)")
    ax.set_title(f"Each step's effect on the dev {metric_labels().get(metric, metric)} score: the pre-registered verdicts")
    ax.grid(axis="x", alpha=0.3)
    _save(fig, name)
    return fig


@from_tables
def reliability_diagrams(table: pd.DataFrame, name: str = "reliability.png", title: str = ""):
    """Reliability diagrams from reports/tables/reliability.csv (evaluate.reliability rows with columns task and
    stage): one panel a task, each stage's accuracy against its mean top-label confidence per bin, marker area
    by the bin's count, ECE in the legend; the diagonal is perfect calibration."""
    tasks = list(dict.fromkeys(table["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 4.0), squeeze=False)
    labels = {"sst": "SST-5", "para": "Quora paraphrase"}
    for ax, task in zip(axes[0], tasks):
        ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
        for (stage, rows), color in zip(table[table["task"] == task].groupby("stage", sort=False), ("C0", "C3", "C2")):
            n, ece = rows["count"].sum(), expected_calibration_error(rows)
            ax.plot(rows["confidence"], rows["accuracy"], color=color, lw=1.2, label=f"{stage}: ECE {ece:.3f}")
            ax.scatter(rows["confidence"], rows["accuracy"], s=10 + 300 * rows["count"] / n, color=color, alpha=0.6)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean top-label confidence in the bin", ylabel="accuracy in the bin",
               title=f"{labels.get(task, task)} ({int(rows['count'].sum())} dev examples)")
        ax.legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, name)
    return fig


@from_tables
def cosine_maps(maps: pd.DataFrame, pairs: pd.DataFrame, name: str = "cosine_maps.png"):
    """The cosine STS head's two maps from cos(u, v) to a 0-5 score (``maps``: methods.cosine_maps' curves), with one
    batch's pairs as the pretrained encoder places them (``pairs``: cos and gold score) over them."""
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    labels = {"cosine-sigmoid": "5 σ(cos): the paper's", "cosine-linear": "2.5 (cos + 1): SBERT's"}
    for head, df in maps.groupby("map", sort=False):
        ax.plot(df["cos"], df["score"], label=labels.get(head, head))
    ax.scatter(pairs["cos"], pairs["gold"], color="black", s=18, zorder=3, label="one STS batch: gold score at its cos")
    ax.set(xlabel="cos(u, v) of a sentence pair", ylabel="predicted similarity (0-5)", xlim=(-1, 1), ylim=(-0.1, 5.1))
    ax.set_title("What the cosine head can say: its score is a fixed map of the cosine", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    _save(fig, name)
    return fig


@from_tables
def similarity_matrix(sim: pd.DataFrame, loss: float, name: str = "simcse_batch.png", temperature: float = 0.05):
    """SimCSE's matrix on one batch (``sim``: methods.simcse_batch's i, j, cos / τ): row i is sentence i's first
    dropout view against every sentence's second; the loss asks each row's diagonal to win."""
    matrix = sim.pivot(index="i", columns="j", values="sim")
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    sns.heatmap(matrix, annot=True, fmt=".1f", cmap="viridis", ax=ax, cbar_kws={"label": f"cos / τ (τ = {temperature:g})"},
                annot_kws={"fontsize": 7})
    ax.set(xlabel="sentence j, second dropout view", ylabel="sentence i, first dropout view")
    ax.set_title(f"SimCSE on one batch: the diagonal pairs a sentence with itself (loss {loss:.2g})", fontsize=9)
    _save(fig, name)
    return fig



@from_tables
def epoch_mix(counts: pd.DataFrame, order: pd.DataFrame, name: str = "epoch_mix.png"):
    """What one epoch of each sampler takes (``counts``, ``order``: methods.epoch_mix): left, each task's batches the
    epoch takes against all its batches (grey); right, which task each of the first steps trains."""
    samplers, tasks = list(dict.fromkeys(counts["sampler"])), list(dict.fromkeys(counts["task"]))
    short = {t: TASKS[t].short or t for t in tasks}
    colors = dict(zip(tasks, sns.color_palette("colorblind", n_colors=len(tasks))))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [1, 1.5]})
    height = 0.8 / len(samplers)
    for k, sampler in enumerate(samplers):
        rows = counts[counts["sampler"] == sampler].set_index("task").loc[tasks]
        y = [i + (k - (len(samplers) - 1) / 2) * height for i in range(len(tasks))]
        left.barh(y, rows["task_batches"], height=height * 0.9, color="0.88")
        left.barh(y, rows["epoch_batches"], height=height * 0.9, color=[colors[t] for t in tasks],
                  alpha=0.55 if k == 0 else 1.0, hatch="//" if k == 0 else None, edgecolor="white")
        for yy, (task, r) in zip(y, rows.iterrows()):
            left.text(r["task_batches"], yy, f" {sampler}: {r['epoch_batches']} of {r['task_batches']}",
                      va="center", fontsize=7)
    left.set_yticks(range(len(tasks)), [short[t] for t in tasks])
    left.invert_yaxis()
    left.set_xlim(0, counts["task_batches"].max() * 1.75)
    left.set(xlabel="batches in one epoch (grey: all the task's batches)")
    for k, sampler in enumerate(samplers):
        steps = order[order["sampler"] == sampler]
        right.bar(steps["step"], 0.8, bottom=k - 0.4, width=0.9, color=[colors[t] for t in steps["task"]])
    total = counts.groupby("sampler", sort=False)["epoch_batches"].sum()
    right.set_yticks(range(len(samplers)), [f"{s}\n({total[s]:,} steps an epoch)" for s in samplers], fontsize=8)
    right.invert_yaxis()
    right.set(xlabel=f"step of epoch 0 (its first {order['step'].max() + 1})", xlim=(-0.6, order["step"].max() + 0.6))
    right.legend(handles=[matplotlib.patches.Patch(color=colors[t], label=short[t]) for t in tasks], fontsize=7,
                 ncol=len(tasks), loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)
    fig.suptitle("What one epoch trains: round-robin stops at the smallest task's batches; proportional takes every "
                 "batch, shuffled", fontsize=9)
    fig.tight_layout()
    _save(fig, name)
    return fig
