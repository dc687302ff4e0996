"""The study as data, in one place: its notebooks and their titles, the rows each adds to the ablation table
(and so which notebook trains a run), the ladder's order, the steps the verdicts compare, and the ensembles.

Everything that names the study's structure reads this module: the planner (batch.plan), the tables of runs
(study.tables), the verdicts (reporting.report) and the saved
predictions (study.saved_predictions). A row's config is recipes.VARIANTS[row] on a profile; a run's name is
study.results.run_name(row, seed=...), the one builder.
Adding a step is one NotebookSpec entry here (and its notebook).
"""
from __future__ import annotations

from dataclasses import dataclass

import itertools
from typing import Any

from ..base.tasks import study_columns
from ..core.config import ConfigError, ExperimentConfig, profile_config, profile_seeds
from .recipes import REGIME_RECIPES, VARIANTS, variant_config
from .results import run_name


# -- each notebook's runs, declared once: the notebook trains them (experiment.train_runs), the planner plans them --

@dataclass(frozen=True)
class Axis:
    """One axis of a group's points. ``values``: a literal tuple of (label, overrides) pairs, or "=p", the
    notebook parameter p's list (a point per value v, labelled v, formatted :g when a number, setting each config
    path of ``sets`` to v; ``column`` names the value in the notebook's table). ``only``: "=p", a parameter listing
    the labels to keep (None keeps every one)."""
    values: str | tuple
    sets: tuple[str, ...] = ()
    column: str = ""
    only: str = ""


@dataclass(frozen=True)
class Runs:
    """A group of a notebook's runs: for each seed and each point of the ``axes`` (their product), the run
    ``name`` (its "{}" filled with the point's labels) plus '-seed<N>', configured as ``recipe`` (a recipes.VARIANTS
    row; "=p" the notebook parameter p's; "" the profile's plain config) with ``overrides`` ((config path, value):
    a literal, "=p" the parameter's value, "?p" the same but left out when None) and the point's own. Seeds: the
    parameter ``seeds`` through notebook_seeds, of this notebook or, with ``seeds_of``, of the notebook that
    trains that row. ``when``: "=p", a parameter that turns the group off when false (a tuple: several, each
    does). ``key`` names the group."""
    key: str
    name: str = ""
    recipe: str = ""
    overrides: tuple[tuple[str, Any], ...] = ()
    axes: tuple[Axis, ...] = ()
    seeds: str = "seeds"
    seeds_of: str = ""
    when: str | tuple[str, ...] = ""

    def conditions(self) -> tuple[str, ...]:
        """The notebook parameters whose false value turns the group off (its ``when``, without the '=')."""
        return tuple(w[1:] for w in ((self.when,) if isinstance(self.when, str) else self.when) if w)

    def off_in(self, params: dict) -> bool:
        """Whether ``params`` (a profile's batch parameters, which may leave a switch out) turn the group off."""
        return any(c in params and not params[c] for c in self.conditions())


@dataclass(frozen=True)
class DeclaredRun:
    """One run a group expands to, with the point it stands for ({label or column: value})."""
    notebook: str
    group: str
    name: str
    seed: int
    point: dict
    config: ExperimentConfig


def _param(value, params: dict, where: str):
    if isinstance(value, str) and value[:1] in "=?" and len(value) > 1:
        if value[1:] not in params:
            raise ConfigError(f"{where}: the notebook declares no parameter {value[1:]!r} (spec.NOTEBOOKS)")
        return params[value[1:]]
    return value


def _points(axis: Axis, params: dict, where: str) -> list[tuple[str, Any, dict]]:
    """(label, value, overrides) of each point of one axis."""
    if isinstance(axis.values, tuple):
        points = [(label, label, dict(ov)) for label, ov in axis.values]
    else:
        values = _param(axis.values, params, where) or []
        points = [(v if isinstance(v, str) else f"{v:g}", v, {path: v for path in axis.sets}) for v in values]
    keep = _param(axis.only, params, where) if axis.only else None
    return [p for p in points if keep is None or p[0] in keep]


def expand(notebook: str, params: dict, key: str | None = None) -> list[DeclaredRun]:
    """The runs of ``notebook``'s groups (or its group ``key``) under the notebook's parameters ``params`` (its
    parameters cell with the batch's values; 'profile' and 'encoder' among them), in declaration order: group,
    point, seed. Where two runs have one config, the registry trains it once (experiment.train_runs)."""
    spec = BY_NAME[notebook]
    groups = [g for g in spec.groups if key is None or g.key == key]
    if key is not None and not groups:
        raise KeyError(f"{notebook} declares no group {key!r}: {[g.key for g in spec.groups]}")
    profile, out = params["profile"], []
    for g in groups:
        where = f"{notebook} group {g.key!r}"
        if not all(_param("=" + c, params, where) for c in g.conditions()):
            continue
        given = _param("=" + g.seeds, params, where)
        seeds = notebook_seeds(trained_by(g.seeds_of) if g.seeds_of else notebook, profile, given)
        fixed = {path: _param(v, params, where) for path, v in g.overrides
                 if not (isinstance(v, str) and v.startswith("?") and _param(v, params, where) is None)}
        axes = [_points(a, params, where) for a in g.axes]
        for combo in itertools.product(*axes):
            for seed in seeds:
                overrides = {**fixed, **{k: v for _, _, ov in combo for k, v in ov.items()}}
                recipe = overrides.pop("recipe", None) or _param(g.recipe, params, where)
                overrides = {k: _param(v, params, where) for k, v in overrides.items()}
                cfg = (variant_config(recipe, profile, model__encoder=params["encoder"], train__seed=seed, **overrides)
                       if recipe else profile_config(profile, model__encoder=params["encoder"], train__seed=seed,
                                                     **overrides))
                name = (g.name or g.key).format(*(label for label, _, _ in combo))
                point = {(a.column or f"axis{i}"): value for i, (a, (_, value, _)) in enumerate(zip(g.axes, combo))}
                out.append(DeclaredRun(notebook, g.key, run_name(name, seed=seed), seed, point, cfg))
    return out


# Points shared by several groups: the three specialists (and the multitask member of a LoRA quartet).
SPECIALIST_POINTS = tuple((task, {"tasks": [task]}) for task in ("sst", "para", "sts"))
MEMBER_POINTS = (*SPECIALIST_POINTS, ("multitask", {"tasks": ["sst", "para", "sts"]}))
LORA = (("lora__enabled", True), ("lora__r", "=lora_r"), ("lora__alpha", "=lora_alpha"), ("train__lr", "=lora_lr"))
SWEEP_STEPS = (("train__max_steps", "=sweep_steps"),)


@dataclass(frozen=True)
class NotebookSpec:
    """One numbered notebook: ``rows`` are the ablation rows it adds (recipes.VARIANTS names, or an ensemble; the
    comparisons it states are the declared QUESTIONS whose later row it adds), ``runs`` the prefixes of its other runs' names,
    ``seeds`` how many seeds its rows get where the profile trains several (0: the profile's number); ``stems``
    the names (without their seed) of runs besides its rows that it trains on every seed, where known here (the
    README's records line checks them); ``trains`` False for a notebook that reads the others' tables and runs
    only (a batch executes it after every notebook that trains: batch_order); ``groups`` the runs it trains, as
    data (Runs; each row of ``rows`` that is a recipe is a group of its own unless listed)."""
    name: str
    title: str
    rows: tuple[str, ...] = ()
    runs: tuple[str, ...] = ()
    seeds: int = 0
    stems: tuple[str, ...] = ()
    trains: bool = True
    groups: tuple[Runs, ...] = ()

    def __post_init__(self):
        # a row that is a recipe trains as one group of its own, first, in the order of ``rows``
        own = tuple(Runs(row, recipe=row) for row in self.rows if row in VARIANTS and row not in
                    {g.key for g in self.groups})
        object.__setattr__(self, "groups", own + self.groups)


# Rows whose runs cost under about ten minutes on the study's 2-core CPU get five seeds instead of three: with
# three, a step's 95% interval is about +-0.01 to +-0.04 wide and most verdicts are inconclusive; the longer
# rows (SimCSE, the cosine head, notebook 11) and the sweeps keep three.
CHEAP_SEEDS = 5

# The paper's quartet averages members of this recipe (SMART-sampling-SimCSE-Ensemble): notebooks 07 and 08.
PAPER_RECIPE = "smart-simcse"

NOTEBOOKS = (
    NotebookSpec("01_single_task_sentiment", "Single-task sentiment: frozen vs fine-tuned encoder", runs=("sst", "cfimdb"),
                 groups=(Runs("single-task", "{}-{}", overrides=(("data__max_train_per_task", "?max_train"),), axes=(
                     Axis((("sst", {"tasks": ["sst"]}), ("cfimdb", {"tasks": ["cfimdb"]})), column="task"),
                     Axis((("pretrain", {"model__freeze_encoder": True, "train__lr": "=frozen_lr",
                                         "train__epochs": "=frozen_epochs"}), ("finetune", {})), column="mode"))),)),
    NotebookSpec("02_multitask_baseline", "Multitask baseline", ("baseline-pretrain", "baseline-finetune"),
                 seeds=CHEAP_SEEDS),
    # the natural-size rows are the imbalance control, off the ladder (a run trains 5-9 min here, 5.5-10.4 min wall:
    # five seeds, as three left its +0.019 [+0.013, +0.026] inconclusive after Holm's correction)
    NotebookSpec("03_task_sampling", "Batch-level task sampling", ("sampling", "baseline-finetune-natural", "sampling-natural"),
                 seeds=CHEAP_SEEDS, groups=(
                     Runs("baseline-finetune-natural", recipe="baseline-finetune-natural", when="=imbalance_control"),
                     Runs("sampling-natural", recipe="sampling-natural", when="=imbalance_control"),
                     # the profile's own setting is the `sampling` run itself (the registry finds it by its config)
                     Runs("word-embeddings", "sampling-word-embeddings-{}", "sampling", seeds="embedding_seeds", axes=(
                         Axis((("frozen", {"model__freeze_word_embeddings": True}),
                               ("trainable", {"model__freeze_word_embeddings": False})), column="word_embeddings"),)))),
    NotebookSpec("04_smart_mbpp", "SMART and MBPP", ("advreg-literal", "advreg-only", "smart"), runs=("sweep",),
                 seeds=CHEAP_SEEDS, groups=(
                     Runs("advreg-literal", recipe="advreg-literal", seeds="literal_seeds"),
                     Runs("lambda", "sweep-lambda{}", "advreg-only", seeds="sweep_seeds",
                          axes=(Axis("=lambdas", ("smart__weight",), "lambda"),)),
                     Runs("lambda-seeded", "sweep-lambda{}", "advreg-only", axes=(Axis("=lambda_seeded", ("smart__weight",), "lambda"),)),
                     Runs("radius", "sweep-radius{}", "advreg-only", SWEEP_STEPS, seeds="sweep_seeds",
                          axes=(Axis("=radii", ("smart__radius",), "radius"),)),
                     Runs("smart-dropout", "sweep-dropout-{}", "advreg-only", SWEEP_STEPS, seeds="sweep_seeds",
                          axes=(Axis("=smart_dropout_modes", ("smart__dropout",), "smart_dropout"),)),
                     Runs("lr-dropout", "sweep-lr{}-dropout{}", "sampling", SWEEP_STEPS, seeds="sweep_seeds", axes=(
                         Axis("=learning_rates", ("train__lr",), "lr"),
                         Axis("=dropouts", ("model__hidden_dropout", "model__encoder_dropout"), "dropout"))))),
    # smart-cosine-linear is a control, off the ladder: the cosine head's map, 2.5 (cos + 1) against 5 sigma(cos)
    NotebookSpec("05_cosine_sts", "Cosine-similarity STS head", ("smart-cosine", "smart-cosine-linear")),
    # smart-simcse is the paper's row (SimCSE on SMART-sampling); smart-cosine-simcse stacks it on the cosine head
    NotebookSpec("06_simcse", "SimCSE stage", ("smart-simcse", "smart-cosine-simcse")),
    # two quartets: `ensemble` averages `sampling` members (the project's question, five seeds), and
    # `ensemble-smart-simcse` averages smart-simcse members, the paper's quartet (three seeds, as smart-simcse has)
    # (each quartet's multitask member is its recipe's ladder run, trained by that row's notebook)
    NotebookSpec("07_quartet_ensemble", "Quartet ensemble", ("ensemble", "ensemble-smart-simcse"), runs=("specialist",),
                 seeds=CHEAP_SEEDS, groups=(
                     Runs("specialist", "specialist-{}", "=recipe", axes=(Axis(SPECIALIST_POINTS, column="member"),)),
                     Runs("specialist-paper", f"specialist-{PAPER_RECIPE}-{{}}", PAPER_RECIPE, seeds_of=PAPER_RECIPE,
                          axes=(Axis(SPECIALIST_POINTS, column="member"),)))),
    # LoRA quartets: four LoRA runs a seed (the specialists and a multitask member) on one frozen encoder
    NotebookSpec("08_lora", "LoRA", ("ensemble-lora", "ensemble-lora-smart-simcse"), runs=("lora",), seeds=CHEAP_SEEDS,
                 groups=(
                     Runs("lora", "lora-{}", "=recipe", LORA, axes=(Axis(MEMBER_POINTS, column="member"),)),
                     Runs("lora-paper", f"lora-{PAPER_RECIPE}-{{}}", PAPER_RECIPE, LORA, seeds_of=PAPER_RECIPE,
                          when="=paper_quartet", axes=(Axis(MEMBER_POINTS, column="member"),)))),
    # 09 collects every table into results.md and draws every figure (notebook 11's curve too), and states 10's
    # findings; 10 browses every run with dev predictions, notebooks 11's and 12's included
    NotebookSpec("09_results", "The whole ladder", trains=False),
    NotebookSpec("10_error_analysis", "Error analysis", trains=False),
    NotebookSpec("11_quality_per_cpu_minute", "Quality per CPU-minute"),
    NotebookSpec("12_overfitting_regime", "A regime built to overfit", runs=("regime",),
                 stems=tuple(f"regime-{label}" for label in REGIME_RECIPES), groups=(
                     Runs("regime", "regime-{}", overrides=(("data__max_train_per_task", "=regime_cap"),
                                                           ("train__epochs", "=regime_epochs"),
                                                           ("train__eval_train_examples", "=regime_probe")),
                          axes=(Axis(tuple((label, {"recipe": recipe, **overrides}) for label, (recipe, overrides)
                                           in REGIME_RECIPES.items()), column="recipe", only="=regime_recipes"),)),)),
    # issue 40: the converged budget, every example each epoch but the calibration split (plain three epochs, SMART +
    # MBPP two), three seeds; converged-smart-epoch1 is an epoch row (EPOCH_ROWS): SMART's first epoch, in about
    # plain's three epochs' minutes. The converged quartet's specialists: converged-plain on one task each (its
    # multitask member is converged-plain's run of the same seed), a candidate for the best model (QUARTET_OF)
    NotebookSpec("13_converged_budget", "At a converged budget: SMART and the best model",
                 ("converged-plain", "converged-smart", "converged-smart-epoch1"), runs=("converged-specialist",),
                 seeds=3, groups=(*(Runs(row, recipe=row, seeds="converged_seeds", when="=converged")
                                    for row in ("converged-plain", "converged-smart")),
                                  Runs("converged-specialist", "converged-specialist-{}", "converged-plain",
                                       seeds="quartet_seeds", when=("=converged", "=quartet_seeds"),
                                       axes=(Axis(SPECIALIST_POINTS, column="member"),)))),
)
BY_NAME = {nb.name: nb for nb in NOTEBOOKS}
NOTEBOOK_NAMES = tuple(BY_NAME)


# The notebook that gathers every table and figure into results.md: a batch executes it last.
SUMMARY = "09_results"


def batch_order(names: list[str]) -> list[str]:
    """``names`` (notebook stems) in the order a batch executes them: the notebooks that train, by number, then
    those that only read what they wrote (NotebookSpec.trains False), SUMMARY last: 01-08, 11, 12, 13, 10, 09. A
    notebook that trains reads only runs and tables of notebooks numbered before it, so one pass in this order
    leaves every executed copy showing the tables as the batch left them."""
    reads_only = lambda n: n in BY_NAME and not BY_NAME[n].trains  # noqa: E731
    return sorted(names, key=lambda n: (reads_only(n), n == SUMMARY, n))


# The project's quality target for the overall dev score, set by the team below the paper's bert-base ensemble
# (0.782, quarbert_lib/paper/table2_dev.csv): notebook 11's findings, its figure and benchmarks.md judge against it.
TARGET_OVERALL = 0.76

# The ladder: each row adds one thing to the one before it (controls such as smart-cosine-linear are off it).
LADDER = ("baseline-finetune", "sampling", "advreg-literal", "advreg-only", "smart", "smart-cosine", "smart-simcse",
          "smart-cosine-simcse")
# Rows read off another row's runs at an epoch's end (their history.csv's dev evaluation), not trained: {row: (the
# recipe row whose runs it reads, the epoch)}. SMART's first epoch at the converged budget takes about the training
# minutes of plain's three (notebook 11's one-seed points of the same recipes: 1,569 s against 1,576 s), so it is the
# equal-minutes comparison.
EPOCH_ROWS = {"converged-smart-epoch1": ("converged-smart", 1)}
# The rows whose runs all hold out one and the same calibration split (data.calibration_holdout on every example): the
# study's best model is chosen among their runs and seed ensembles on that split, never on dev
# (experiment.choose_best). Runs on a cap keep back other examples, which these runs trained on, so no single split
# could score both kinds fairly.
CHOICE_ROWS = ("converged-plain", "converged-smart")
# Quartets among those candidates: {recipe row: the prefix of its specialists' run names}. A seed's quartet is the
# row's run of that seed with its three specialists of that seed (SPECIALIST_POINTS: the row's recipe on one task),
# averaged as notebook 07 averages its quartets.
QUARTET_OF = {"converged-plain": "converged-specialist"}
# Rows that test why a step is null (off the ladder): never a candidate for the study's best model.
CONTROLS = ("smart-cosine-linear", "baseline-finetune-natural", "sampling-natural")
# The rows that average several models, and the notebook that writes each one's folder.
ENSEMBLES = {row: nb.name for nb in NOTEBOOKS for row in nb.rows if row.startswith("ensemble")}
def notebook_seeds(notebook: str, profile: str, seeds: list[int] | None = None) -> list[int]:
    """The seeds a notebook trains its rows with: ``seeds`` when given; else, where the profile trains several seeds
    and the notebook's runs are cheap (NotebookSpec.seeds), seeds 0 to seeds - 1; else the profile's."""
    chosen = profile_seeds(profile, seeds)
    spec = BY_NAME.get(notebook)
    if seeds is None and spec is not None and spec.seeds and len(chosen) > 1:
        return list(range(spec.seeds))
    return chosen


def row_seeds(row: str, profile: str) -> list[int]:
    """The seeds the study trains a row with (its notebook's, notebook_seeds), e.g. 'sampling' on cpu: 0-4."""
    return notebook_seeds(trained_by(row) or "", profile)


def trained_by(run: str) -> str | None:
    """The notebook that trains a run (by its name: a row's, or one of a notebook's other run prefixes), or None."""
    owners = [(key, nb.name) for nb in NOTEBOOKS for key in (*nb.rows, *nb.runs)]
    matches = [(key, name) for key, name in owners if run == key or run.startswith(key + "-")]
    return max(matches, key=lambda m: len(m[0]))[1] if matches else None


# -- the study's questions, declared before the numbers: the one pre-registered analysis (reporting.verdicts) -------

@dataclass(frozen=True)
class Question:
    """One comparison of the pre-registered analysis: row ``before`` -> row ``after`` (ablation rows), tested on
    every metric of its ``family`` (FAMILIES), paired by seed (every row trains seed s with the same heads'
    initialisation and data order, so the seed is a block). ``paper``: the paper states the same step (its Table 2
    holds both rows under these names: quarbert_lib/paper/table2_dev.csv)."""
    before: str
    after: str
    family: str
    label: str
    paper: bool = False

    @property
    def step(self) -> str:
        return f"{self.before} -> {self.after}"


# Families, each with its own multiplicity correction over a number of tests fixed here (questions x metrics),
# never over the tests that happen to have rows: a step's word then depends only on its own two rows.
# "paper": primary, the paper's steps as its Table 2 defines them, on the course's overall score;
# "paper-tasks": the same steps on each task's metric; "project": the project's own questions, on all four;
# "converged": SMART at a budget that converges (issue 40, declared before its runs trained), on all four.
FAMILIES = ("paper", "paper-tasks", "project", "converged")


def family_metrics(family: str) -> tuple[str, ...]:
    """The metric columns a family tests: the overall score, the study's tasks' columns (tasks.study_columns), or
    both."""
    return {"paper": ("overall",), "paper-tasks": tuple(study_columns()),
            "project": ("overall", *study_columns()), "converged": ("overall", *study_columns())}[family]


# The paper's steps as its Table 2 defines them (quarbert_lib/paper/README.md), then the project's own questions.
_PAPER_STEPS = (
    ("baseline-pretrain", "baseline-finetune", "fine-tuning the encoder"),
    ("baseline-finetune", "sampling", "batch-level task sampling"),
    ("sampling", "smart", "SMART with MBPP (the paper's SMART-sampling)"),
    ("smart", "smart-cosine", "the cosine STS head"),
    ("smart", "smart-simcse", "SimCSE on SMART-sampling"),
    ("smart-simcse", "ensemble-smart-simcse", "the quartet of SMART-SimCSE members"),
    ("ensemble-smart-simcse", "ensemble-lora-smart-simcse", "LoRA members in that quartet"),
)
# The rows whose seed-0 predictions notebook 10 checks against the paper's Section 6 (SST error levels, STS extremes).
PAPER_CHECK_ROWS = ("sampling", "smart", "smart-cosine", "smart-cosine-linear", "smart-simcse", "ensemble",
                    "ensemble-smart-simcse")
_PROJECT = (
    ("sampling", "advreg-literal", "SMART as Jiang et al.'s equations read (inert at epsilon 1e-5)"),
    ("sampling", "advreg-only", "SMART as the public libraries implement it"),
    ("advreg-only", "smart", "MBPP on top of SMART"),
    ("advreg-only", "sweep-lambda0.5", "SMART's weight lambda_s 0.5 against 5"),
    ("baseline-finetune-natural", "sampling-natural", "task sampling at the tasks' natural sizes"),
    ("smart-cosine", "smart-cosine-linear", "the cosine head's map 2.5 (cos + 1) against 5 sigmoid(cos)"),
    ("smart-cosine", "smart-cosine-simcse", "SimCSE stacked on the cosine head"),
    ("sampling", "ensemble", "the quartet of sampling members"),
    ("ensemble", "ensemble-lora", "LoRA members in the sampling quartet"),
)
# The converged budget: does SMART with MBPP help where training runs long enough for a regulariser to matter? At
# each recipe's dev-selected best epoch (as every row), and in about the same training minutes (EPOCH_ROWS).
_CONVERGED = (
    ("converged-plain", "converged-smart", "SMART with MBPP at a converged budget, each recipe's best epoch"),
    ("converged-plain", "converged-smart-epoch1", "SMART with MBPP in about the same training minutes (its first "
                                                  "epoch against plain's best of its three)"),
)
QUESTIONS = tuple(
    [Question(a, b, "paper", label, True) for a, b, label in _PAPER_STEPS]
    + [Question(a, b, "paper-tasks", label, True) for a, b, label in _PAPER_STEPS]
    + [Question(a, b, "project", label) for a, b, label in _PROJECT]
    + [Question(a, b, "converged", label) for a, b, label in _CONVERGED])


def family_size(family: str) -> int:
    """The number of tests the family's correction counts: its questions times its metrics, as declared."""
    return sum(q.family == family for q in QUESTIONS) * len(family_metrics(family))


def questions_of(notebook: str) -> list[Question]:
    """The declared questions whose ``after`` row the notebook adds (what it shows the study's verdict for)."""
    rows = BY_NAME[notebook].rows if notebook in BY_NAME else ()
    return [q for q in QUESTIONS if q.after in rows or (q.after.startswith("sweep-") and trained_by(q.after) == notebook)]


def sts_head(row: str, profile: str) -> str:
    """The STS head of a row's runs ('linear', 'cosine-sigmoid', 'cosine-linear'), or 'members averaged' for a
    quartet."""
    return "members averaged" if row in ENSEMBLES else variant_config(EPOCH_ROWS.get(row, (row,))[0], profile).model.sts_head


def budget(row: str, profile: str) -> str:
    """What a row's runs train on, as the README's table shows it: the examples a task (the cap, or "all"; "but
    calib" where the calibration split is held out of all; "round-robin" where that sampler's epoch, as many batches
    of each task as the smallest has, leaves some of all out) times the epochs ("best of N": dev chose each run's
    epoch; an EPOCH_ROWS row is one epoch's end of another row's runs); a quartet's are its members'."""
    if row in ENSEMBLES:
        return "its members'"
    variant, epoch = EPOCH_ROWS.get(row, (row, None))
    cfg = variant_config(variant, profile)
    cap = cfg.data.max_train_per_task
    data = f"{cap:,}" if cap is not None else ("all but calib" if cfg.data.calibration_holdout else "all") + (
        ", round-robin" if cfg.train.sampler == "round-robin" else "")
    epochs = cfg.train.epochs
    length = (f"{cfg.train.max_steps} steps" if cfg.train.max_steps else f"epoch {epoch} of {epochs}" if epoch
              else f"best of {epochs} epochs" if epochs > 1 else "1 epoch")
    return f"{data} × {length}"
