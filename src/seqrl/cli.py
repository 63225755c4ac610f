"""The `seqrl` command line: train, resume, eval, sample, plot, list, config.

Only argparse and the standard library are imported at start-up: `seqrl --help`, `--version` and
every `<command> --help` answer without importing PyTorch. Each command imports what it uses.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from seqrl import __version__


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, highlight=False)  # long paths in errors stay on one line


def _say(text: str) -> None:
    """A status line on stderr, printed as given (no rich markup: paths may hold brackets)."""
    _console().print(text, markup=False)


# -- argument types: bad values are argparse errors (one line, exit 2), not tracebacks ----------
def _at_least(lo: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value
    return parse


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _checkpoint(text: str) -> str:
    if text not in ("best", "latest") and not text.isdigit():
        raise argparse.ArgumentTypeError(f"takes a step number, 'best' or 'latest', not {text!r}")
    return text


# -- commands ---------------------------------------------------------------------------------
def _config_args(args: argparse.Namespace) -> tuple[Optional[str], list[str]]:
    """`seqrl train optim.lr=1e-3` has no config file: its first positional is an override."""
    config, overrides = args.config, list(args.overrides)
    if config and "=" in config and not Path(config).exists():
        config, overrides = None, [config] + overrides
    return config, overrides


def _train(args: argparse.Namespace) -> int:
    from seqrl.config import ConfigError, load_config
    from seqrl.sources import make_trainer, resume

    if args.resume:
        if args.run_dir:
            raise ConfigError(f"--resume {args.resume} and --run-dir {args.run_dir}: a run resumes in its own "
                              "directory (copy the directory first to continue it elsewhere)")
        config, overrides = _config_args(args)
        if config is not None:
            raise ConfigError(f"--resume takes no config file ({config}): a run resumes with its own config.yaml; "
                              "key=value overrides may change optim.steps and run.* logging settings")
        trainer = resume(args.resume, overrides=overrides, lock=True)  # a second process is refused
        why = trainer.finish_reason()
        if why is not None:
            key = why.split("=")[0]  # run.stop_at, run.time_limit or optim.steps
            more = [f"{key}=null"] if key != "optim.steps" else []
            if key == "optim.steps" or trainer.state.step >= trainer.cfg.optim.steps:
                more.append("optim.steps=N")
            _say(f"{trainer.run_dir} already finished at step {trainer.state.step}: {why}; nothing changed. "
                 f"To train on: seqrl train --resume {trainer.run_dir} {' '.join(more)}")
        else:
            _say(f"resuming {trainer.run_dir} from step {trainer.state.step}")
    else:
        cfg = load_config(*_config_args(args))
        trainer = make_trainer(cfg, args.run_dir)
        trainer.lock()
        _say(f"run directory: {trainer.run_dir}")
    summary = trainer.fit()
    print(json.dumps(summary, indent=2))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from seqrl.config import ConfigError
    from seqrl.sequences.evaluation import evaluate_run
    from seqrl.sources import resume_at

    trainer = resume_at(args.run_dir, args.checkpoint)
    if trainer.cfg.env.id is not None:
        from seqrl.envs.play import evaluate_env_run

        if args.data or args.beam or args.split not in ("validation", "valid"):
            raise ConfigError("--data, --split and --beam are for sequence runs; an environment run is evaluated "
                              "on its greedy validation episodes")
        print(json.dumps(evaluate_env_run(trainer), indent=2))
        return 0
    result = evaluate_run(trainer, args.data, args.split, args.beam, args.length_penalty)
    print(json.dumps(result, indent=2))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from seqrl.config import ConfigError
    from seqrl.rewards.checked import evaluate_rewards
    from seqrl.rollout import strip
    from seqrl.tasks import collate
    from seqrl.tasks.base import example_columns
    from seqrl.sources import resume_at
    from seqrl import seeds
    from seqrl.vocab import specials_of

    trainer = resume_at(args.run_dir, args.checkpoint)
    if trainer.cfg.env.id is not None:
        return _sample_env(trainer, args)
    if args.video:
        raise ConfigError("--video is for environment runs")
    src = trainer.source
    examples = list(src.data.validation[: args.n])
    batch = collate(examples, specials_of(src.task)).to(trainer.device)
    src.policy.eval()
    if args.greedy:
        rollout = src.policy.greedy(batch, src.max_len)
    else:
        gen = seeds.sampling(args.seed, 0)
        rollout = src.policy.sample(batch, args.k, src.max_len, args.temperature, gen)
    outputs = strip(rollout.tokens, rollout.mask, rollout.eos)
    render = src.task.vocab.render
    render_source = getattr(src.task, "render_source", render)
    table = Table("source", "reference", "output", "reward")
    reward_fn = src.task.reward if trainer.cfg.task.per_token else src.reward_fn
    scored = evaluate_rewards(reward_fn, outputs, [list(e.target) if e.target is not None else None
                                                   for e in examples for _ in range(rollout.k)],
                              [list(e.source) for e in examples for _ in range(rollout.k)],
                              example_columns(examples, rollout.k), step=trainer.state.step, render=render)
    for i, out in enumerate(outputs):
        ex = examples[i // rollout.k]
        table.add_row(escape(render_source(ex.source)), escape(render(ex.target)) if ex.target is not None else "-",
                      escape(render(out)), f"{float(scored.values[i]):.3f}" if scored.valid[i] else "-")
    Console().print(table)
    return 0


def _sample_env(trainer: Any, args: argparse.Namespace) -> int:
    """Play --n episodes (sampled, or --greedy) and print their returns; --video writes one as a GIF."""
    from rich.console import Console
    from rich.table import Table

    from seqrl.envs.play import sample_episodes, write_gif

    rows = sample_episodes(trainer.source, args.n, args.greedy, args.seed)
    table = Table("episode", "return", "length", title=f"{trainer.cfg.env.id} at step {trainer.state.step}")
    for r in rows:
        table.add_row(str(r["episode"]), f"{r['return']:.2f}", str(r["length"]))
    Console().print(table)
    returns = [r["return"] for r in rows]
    _say(f"mean return {sum(returns) / len(returns):.2f} over {len(rows)} "
         f"{'greedy' if args.greedy else 'sampled'} episodes")
    if args.video:
        shown = write_gif(trainer.source, Path(args.video), args.greedy, args.seed)
        _say(f"wrote {shown['video']}: one episode, return {shown['return']:.2f}, {shown['length']} steps")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from seqrl.run.plot import plot_runs
    from seqrl.run.plot_diagnostics import plot_diagnostics

    output = Path(args.output)
    extra = plot_diagnostics(args.run_dirs, output.with_name(output.stem + "_diagnostics.png"))  # runs with them
    print(plot_runs(args.run_dirs, output))
    if extra is not None:
        print(extra)
    return 0


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from seqrl.curriculum import CURRICULA
    from seqrl.estimators.baselines import BASELINES
    from seqrl.estimators.risk import OBJECTIVES
    from seqrl.tasks import describe_tasks
    from seqrl.sequences.build import POLICIES

    from seqrl.kinds import ENV_ALGOS, KINDS

    env_algos = [(name, KINDS[name].description) for name in ENV_ALGOS]
    out = Console()
    for title, rows in (("tasks", describe_tasks()), ("policies", list(POLICIES.items())),
                        ("objectives (reinforce.objective)", list(OBJECTIVES.items())),
                        ("baselines", list(BASELINES.items())), ("curricula", list(CURRICULA.items())),
                        ("environment algorithms (env.algo)", env_algos)):
        table = Table("name", "description", title=title, title_justify="left")
        for name, text in rows:
            table.add_row(name, text)
        out.print(table)
    return 0


def _config(args: argparse.Namespace) -> int:
    from seqrl.config import Config, load_config
    from seqrl.config.kind_defaults import notes
    from seqrl.config.validate import describe

    if args.keys:
        kind_notes = notes()
        rows = [(key, tp, repr(default) + (f" ({kind_notes[key]})" if key in kind_notes else ""), doc)
                for key, tp, default, doc in describe(Config)]
        if not sys.stdout.isatty():  # piped: whole lines, tab-separated, nothing cut to a width
            print("\n".join("\t".join(row) for row in [("key", "type", "default", "meaning"), *rows]))
            return 0
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table("key", "type", "default", "meaning")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        Console().print(table)
        return 0
    import yaml

    cfg = load_config(*_config_args(args))
    print(yaml.safe_dump(cfg.used(), sort_keys=False), end="")
    return 0


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default, except where it has none (the help text then says what happens)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False:
            return action.help or ""
        return super()._get_help_string(action) or ""


def build_parser() -> argparse.ArgumentParser:
    fmt = _Help
    p = argparse.ArgumentParser(prog="seqrl", formatter_class=fmt, description=(
        "REINFORCE on rewards you cannot differentiate: sequence generators, gymnasium environments "
        "(REINFORCE, A2C, Q-learning, DQN), stochastic computation graphs. key=value overrides may come "
        "before or after the options."))
    p.add_argument("--version", action="version", version=f"seqrl {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train from a YAML config (default: the reverse demo)", formatter_class=fmt)
    t.add_argument("config", nargs="?", help="YAML config file")
    t.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. optim.lr=1e-3 (with --resume: "
                                                "only optim.steps, run.* logging/checkpoint settings, reward workers)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint that verifies")
    t.add_argument("--run-dir", help="where to write the run (default: run.dir, else runs/<task>-<curriculum>-<time>, "
                                     "or runs/<env id>-<algo>-<time> for an environment)")
    t.set_defaults(fn=_train)
    e = sub.add_parser("eval", help="greedy or beam decoding of a split; corpus scores and a hypotheses file",
                       formatter_class=fmt)
    e.add_argument("run_dir")
    e.add_argument("--checkpoint", type=_checkpoint, default="latest", help="a step, 'best' (best validation score) "
                                                                             "or 'latest'")
    e.add_argument("--data", help="text runs: data to evaluate, in the run's data.format (a parallel-file "
                                  "prefix, a TSV/JSONL file or a saved dataset); default: the validation set")
    e.add_argument("--split", default="validation", help="name of the split (picks the split of a saved "
                                                          "dataset; names the output files)")
    e.add_argument("--beam", type=_at_least(1), help="beam search of this width instead of greedy decoding")
    e.add_argument("--length-penalty", type=_finite_float, default=1.0,
                   help="beam search: GNMT length-penalty exponent alpha (0 = raw log-probability)")
    e.set_defaults(fn=_eval)
    s = sub.add_parser("sample", help="show sampled or greedy outputs of a run on validation inputs (an "
                                      "environment run: play --n episodes and print their returns)",
                       formatter_class=fmt)
    s.add_argument("run_dir")
    s.add_argument("--n", type=_at_least(1), default=5, help="validation inputs")
    s.add_argument("--k", type=_at_least(1), default=1, help="samples per input")
    s.add_argument("--temperature", type=_positive_float, default=1.0)
    s.add_argument("--greedy", action="store_true")
    s.add_argument("--seed", type=_at_least(0), default=0)
    s.add_argument("--checkpoint", type=_checkpoint, default="latest", help="a step, 'best' or 'latest'")
    s.add_argument("--video", metavar="GIF", help="environment runs: also write one episode as an animated GIF")
    s.set_defaults(fn=_sample)
    pl = sub.add_parser("plot", help="reward and validation curves of runs as a PNG (and "
                        "OUTPUT_diagnostics.png for runs with run.diagnostics)", formatter_class=fmt)
    pl.add_argument("run_dirs", nargs="+")
    pl.add_argument("-o", "--output", required=True, help="PNG file to write")
    pl.set_defaults(fn=_plot)
    ls = sub.add_parser("list", help="built-in tasks, policies, baselines and curricula", formatter_class=fmt)
    ls.set_defaults(fn=_list)
    c = sub.add_parser("config", help="print the resolved config, or every key with --keys", formatter_class=fmt)
    c.add_argument("config", nargs="?")
    c.add_argument("overrides", nargs="*")
    c.add_argument("--keys", action="store_true", help="list every key, its type, default and meaning")
    c.set_defaults(fn=_config)
    return p


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _report(err: Exception) -> int:
    """One line for every error a user can cause; anything else is a bug and keeps its traceback."""
    from seqrl.config.validate import ConfigError
    from seqrl.data.readers import DataError
    from seqrl.extras import MissingExtra
    from seqrl.rewards.checked import RewardError
    from seqrl.run.errors import RunError
    from seqrl.sequences.step import TrainingError

    if isinstance(err, (ConfigError, MissingExtra)):
        _console().print(f"[red]config error:[/red] {_escape(_one_line(err))}")
        return 2
    if isinstance(err, (RewardError, TrainingError, RunError, DataError, FileNotFoundError)):
        _console().print(f"[red]error:[/red] {_escape(_one_line(err))}")
        return 1
    if isinstance(err, OSError):  # the file system: read-only, full, a path that is a file, ...
        where = f"{err.filename}: " if err.filename else ""
        _console().print(f"[red]error:[/red] {_escape(where + str(err.strerror or err))}")
        return 1
    raise err


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Arguments, with key=value overrides taken wherever they stand (before or after options)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    overrides = [x for x in extra if "=" in x and not x.startswith("-")]
    unknown = [x for x in extra if x not in overrides]
    if unknown or (overrides and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(unknown or overrides)}")
    if overrides:
        if args.config is None:  # `seqrl train --run-dir D optim.steps=2`: no config file given
            args.config, overrides = overrides[0], overrides[1:]
        args.overrides = list(args.overrides) + overrides
    return args


def _quiet_broken_pipe() -> int:
    """The reader closed our stdout (`seqrl config --keys | head`): stop quietly, as `head` expects."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    return 141


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parse(argv)
    try:
        return args.fn(args)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt as err:
        text = str(err)
        _say(text if "checkpoint" in text else f"interrupted{f' ({text})' if text else ''}; the last checkpoint is kept")
        return 130
    except Exception as err:  # noqa: BLE001 - _report re-raises what is not a user error
        return _report(err)


if __name__ == "__main__":
    sys.exit(main())
