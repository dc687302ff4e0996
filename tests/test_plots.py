"""Figures: labels that never overlap, per-task loss panels, no panel of single dots, captions."""
import json

import pandas as pd
import pytest

from quarbert_lib.reporting import plots


def test_quality_per_minute_labels_never_overlap(isolated):
    budget = pd.DataFrame([{"recipe": r, "cap": c, "epoch": e, "train_minutes": m, "overall": o, "profile": "cpu", "seed": 0}
                           for r, c, e, m, o in [("sampling", 600, 1, 0.6, 0.59), ("sampling", 1200, 1, 1.3, 0.70),
                                                 ("all-data", "all", 1, 11.0, 0.731), ("all-data", "all", 2, 21.9, 0.752),
                                                 ("all-data-linear", "all", 1, 11.9, 0.730), ("all-data-linear", "all", 2, 24.7, 0.753)]])
    # ladder rows crowded at nearly the same place: their labels would sit on top of each other
    ladder = pd.DataFrame([{"variant": f"row-{i}", "train_seconds": 150 + 3 * i, "overall": 0.71 + 0.0005 * i}
                           for i in range(8)])
    fig = plots.quality_per_minute(budget, ladder, targets={"paper": 0.782, "target": 0.76})
    boxes = plots.label_boxes(fig, fig.axes[0])
    assert len(boxes) == 6 + 8 + 2
    assert not [(i, j) for i, a in enumerate(boxes) for j, b in enumerate(boxes) if i < j and a.overlaps(b)]
    assert "cpu profile, seed 0" in fig.axes[0].get_title()
    # nor does a label cover a plotted point (the recipes' markers, the ladder rows)
    ax = fig.axes[0]
    points = ax.transData.transform([*zip(budget["train_minutes"], budget["overall"]),
                                     *zip(ladder["train_seconds"] / 60, ladder["overall"])])
    assert not [(box, p) for box in boxes for p in points if box.contains(*p)]
    # and the placement is the same when drawn again
    second = plots.quality_per_minute(budget, ladder, targets={"paper": 0.782, "target": 0.76})
    again = plots.label_boxes(second, second.axes[0])
    assert [tuple(b.bounds) for b in again] == [tuple(b.bounds) for b in boxes]


def test_long_row_names_are_broken_at_hyphens_so_neighbouring_ticks_do_not_touch(isolated):
    """The study's thirteen ladder rows in one figure (make figures' ablation_ladder.png): unbroken, the
    committed figure's `baseline-finetune-natural` ran into `sampling-natural`."""
    names = ["baseline-pretrain", "baseline-finetune", "sampling", "advreg-literal", "advreg-only", "smart",
             "smart-cosine", "smart-cosine-linear", "smart-simcse", "baseline-finetune-natural", "sampling-natural",
             "ensemble", "ensemble-lora"]
    table = pd.DataFrame([{"variant": v, "sst_acc": 0.4, "qqp_acc": 0.8, "sts_pearson": 0.8, "overall": 0.7, "seeds": 3}
                          for v in names])
    fig = plots.ablation_bars(table, paper={})
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[2] == "sampling" and ticks[9] == "baseline-\nfinetune-\nnatural"
    assert [t.replace("\n", "") for t in ticks] == names              # broken only where a hyphen was
    fig.canvas.draw()
    boxes = [t.get_window_extent(fig.canvas.get_renderer()) for t in ax.get_xticklabels()]
    assert min(b.x0 - a.x1 for a, b in zip(boxes, boxes[1:])) > 10     # pixels between neighbours
    # the controls are rows of the study, not steps of its ladder: the title says so
    assert ax.get_title().startswith("Dev scores of the rows")
    ladder = plots.ablation_bars(table[~table["variant"].isin(plots.CONTROLS)], paper={})
    assert ladder.axes[0].get_title().startswith("Dev scores of the ladder rows")


@pytest.mark.parametrize("rows", [2, 10])
def test_the_ablation_figures_title_and_legend_do_not_overlap(isolated, rows):
    table = pd.DataFrame([{"variant": f"row-{i}", "sst_acc": 0.4, "qqp_acc": 0.8, "sts_pearson": 0.8, "overall": 0.7,
                           "profile": "cpu", "encoder": "minilm-l6", "seeds": 3, "seed_list": "0 1 2"} for i in range(rows)])
    # with the paper's marks the legend has five entries: the committed two-row figure's legend covered its title
    fig = plots.ablation_bars(table, paper={"row-0": {"sst_acc": 0.3, "qqp_acc": 0.4, "sts_pearson": 0.2, "overall": 0.45}})
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title, legend = ax.title.get_window_extent(renderer), ax.get_legend().get_window_extent(renderer)
    axes_box = ax.get_window_extent(renderer)
    assert len(ax.get_legend().get_texts()) == 5
    assert not title.overlaps(legend) and not legend.overlaps(axes_box)
    assert legend.x0 >= axes_box.x1                                   # the legend beside the bars
    assert "cpu profile" in ax.get_title()


def _run(folder, seed, evals, tasks=("sst", "para", "sts")):
    folder.mkdir(parents=True)
    rows = [{"kind": "train", "epoch": 0, "step": s, "loss": 1.0 / s, **{f"loss_{t}": i + 1.0 / s for i, t in enumerate(tasks)}}
            for s in (25, 50, 75)]
    rows += [{"kind": "eval", "epoch": e, "step": 75 * (e + 1), "score": 0.5 + 0.1 * e, "sst_acc": 0.4, "para_acc": 0.8,
              "sts_pearson": 0.7} for e in range(evals)]
    pd.DataFrame(rows).to_csv(folder / "history.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps({"profile": "cpu", "seed": seed}))
    return folder


@pytest.mark.parametrize("evals", [1, 3])
def test_training_curves_plot_each_tasks_loss_and_no_single_dot_panel(isolated, tmp_path, evals):
    runs = {f"run{s}": _run(tmp_path / f"run{s}", s, evals) for s in (0, 1)}
    fig = plots.training_curves(runs, "x_curves.png")
    *loss_axes, last = fig.axes
    assert [a.get_title().split("\n")[0] for a in loss_axes] == ["SST cross-entropy", "QQP binary cross-entropy",
                                                                 "STS loss"]
    # the logged loss is the objective: a regularized run's includes its penalty, and the titles say so
    assert all(a.get_title().endswith("(+ any regularizer's terms)") for a in loss_axes)
    assert all(len(a.lines) == 2 for a in loss_axes)
    assert list(loss_axes[1].lines[0].get_ydata()) == pytest.approx([1 + 1 / 25, 1 + 1 / 50, 1 + 1 / 75])
    if evals == 1:   # one evaluation per run: bars of the final scores, not a panel of dots
        assert not last.lines and len(last.patches) == 2 * 3 and last.get_title() == "dev scores at the end"
    else:
        assert len(last.lines) == 2 and len(last.lines[0].get_xdata()) == 3
    assert fig._suptitle.get_text() == "x curves (cpu profile, seeds 0, 1)"


def test_training_curves_of_runs_too_short_to_log_a_loss_warn_nothing(isolated, tmp_path):
    import warnings
    folder = tmp_path / "short"
    folder.mkdir()
    pd.DataFrame([{"kind": "eval", "epoch": 0, "step": 3, "score": 0.5, "sst_acc": 0.4}]).to_csv(folder / "history.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plots.training_curves({"short": folder}, "short_curves.png")
    assert "no training loss logged" in fig.axes[0].texts[0].get_text()


def test_lambda_figure_marks_the_ladder_row_and_the_seeded_points(isolated):
    """Figure 3 as notebook 04 and `make figures` both draw it: the one-seed line, and squares with the seed std
    at λ_s 5 (the advreg-only row) and at every λ point run on several seeds."""
    from quarbert_lib.reporting.figures import lambda_figure
    metrics = {"sst_acc": 0.43, "qqp_acc": 0.80, "sts_pearson": 0.82, "overall": 0.71}
    sweep = pd.DataFrame([{"lambda": lam, **metrics, "seeds": 1, "steps": 450} for lam in (0.5, 1.0, 5.0)])
    stds = {f"{c}_std": 0.004 for c in metrics}
    ablation = pd.DataFrame([{"variant": "advreg-only", "seeds": 3, **metrics, **stds},
                             {"variant": "smart", "seeds": 3, **metrics, **stds}])
    seeded = pd.DataFrame([{"lambda": 0.5, "variant": "sweep-lambda0.5", "seeds": 3, **metrics, **stds}])
    ax = lambda_figure(sweep, ablation, seeded, "cpu").axes[0]
    squares = [c for c in ax.containers if c.lines[0].get_marker() == "s"]
    assert len(squares) == 2 * len(metrics)                      # two marked points, one square per metric each
    assert sorted({float(c.lines[0].get_xdata()[0]) for c in squares}) == [0.5, 5.0]
    assert ax.get_title() == ("AdvReg (normalize/embedding), cpu profile, 450 steps; line: 1 seed(s) a point; "
                              "squares: 3 seeds")
    assert len(lambda_figure(sweep, None, None, "cpu").axes[0].containers) == 0


def test_quality_figure_draws_only_the_rows_of_notebooks_before_11(monkeypatch):
    """The bug: `make figures` redrew quality_per_minute.png with notebook 13's rows, which notebook 11's executed
    copy (run before 13) never had, so the copy showed another figure than the one saved."""
    from quarbert_lib.reporting import figures
    drawn = {}
    monkeypatch.setattr(figures.plots, "quality_per_minute", lambda budget, ladder, **kw: drawn.setdefault("rows", list(ladder["variant"])))
    ablation = pd.DataFrame({"variant": ["baseline-finetune", "sampling-natural", "ensemble-lora", "converged-plain",
                                         "converged-smart-epoch1", "my-variant"], "overall": 0.7})
    figures.quality_figure(pd.DataFrame(), ablation)
    # a row no notebook of the spec trains (a student's own variant) is drawn, as before
    assert drawn["rows"] == ["baseline-finetune", "sampling-natural", "ensemble-lora", "my-variant"]
