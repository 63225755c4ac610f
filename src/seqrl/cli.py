"""The `seqrl` command line: train, resume, eval, sample, plot, list, config."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from seqrl.config import Config, ConfigError, load_config, to_dict
from seqrl.config.validate import describe
from seqrl.curriculum import CURRICULA
from seqrl.estimators.baselines import BASELINES
from seqrl.data.readers import DataError
from seqrl.rewards.checked import RewardError, evaluate_rewards
from seqrl.run.errors import RunError
from seqrl.rollout import strip
from seqrl.run.plot import plot_runs
from seqrl.tasks import collate, describe_tasks
from seqrl.train.build import POLICIES
from seqrl.train.step import TrainingError, sampling_generator
from seqrl.train.evaluation import evaluate_run
from seqrl.train.trainer import Trainer
from seqrl.vocab import specials_of

console = Console(stderr=True, soft_wrap=True)  # long paths in errors stay on one line


def _config_args(args: argparse.Namespace) -> tuple[Optional[str], list[str]]:
    """`seqrl train optim.lr=1e-3` has no config file: its first positional is an override."""
    config, overrides = args.config, list(args.overrides)
    if config and "=" in config and not Path(config).exists():
        config, overrides = None, [config] + overrides
    return config, overrides


def _train(args: argparse.Namespace) -> int:
    if args.resume:
        if args.run_dir:
            raise ConfigError(f"--resume {args.resume} and --run-dir {args.run_dir}: a run resumes in its own "
                              "directory (copy the directory first to continue it elsewhere)")
        config, overrides = _config_args(args)
        if config is not None:
            raise ConfigError(f"--resume takes no config file ({config}): a run resumes with its own config.yaml; "
                              "key=value overrides may change optim.steps and run.* logging settings")
        trainer = Trainer.resume(args.resume, overrides=overrides, lock=True)  # a second process is refused
        if trainer.finished:
            console.print(f"{trainer.run_dir} already finished at step {trainer.state.step} (optim.steps="
                          f"{trainer.cfg.optim.steps}); to train on: seqrl train --resume {trainer.run_dir} "
                          "optim.steps=N", highlight=False)
        else:
            console.print(f"resuming {trainer.run_dir} from step {trainer.state.step}", highlight=False)
    else:
        cfg = load_config(*_config_args(args))
        trainer = Trainer(cfg, args.run_dir)
        trainer.lock()
        console.print(f"run directory: {trainer.run_dir}", highlight=False)
    summary = trainer.fit()
    print(json.dumps(summary, indent=2))
    return 0


def _resume_at(run_dir: str, checkpoint: Optional[str]) -> Trainer:
    """A run at its latest checkpoint, a given step, or 'best' (checkpoints/best.safetensors)."""
    if checkpoint is None or checkpoint == "latest":
        return Trainer.resume(run_dir)
    if checkpoint == "best":
        trainer = Trainer.resume(run_dir)
        best = trainer.checkpoint_dir / "best.safetensors"
        if not best.exists():
            raise FileNotFoundError(f"{run_dir} has no best checkpoint ({best})")
        trainer.load_file(best)
        return trainer
    if not checkpoint.isdigit():
        raise ConfigError(f"--checkpoint takes a step number, 'best' or 'latest', not {checkpoint!r}")
    return Trainer.resume(run_dir, int(checkpoint))


def _eval(args: argparse.Namespace) -> int:
    trainer = _resume_at(args.run_dir, args.checkpoint)
    result = evaluate_run(trainer, args.data, args.split, args.beam, args.length_penalty)
    print(json.dumps(result, indent=2))
    return 0


def _sample(args: argparse.Namespace) -> int:
    trainer = _resume_at(args.run_dir, args.checkpoint)
    examples = list(trainer.data.validation[: args.n])
    batch = collate(examples, specials_of(trainer.task))
    trainer.policy.eval()
    if args.greedy:
        rollout = trainer.policy.greedy(batch, trainer.max_len)
    else:
        gen = sampling_generator(args.seed, 0)
        rollout = trainer.policy.sample(batch, args.k, trainer.max_len, args.temperature, gen)
    outputs = strip(rollout.tokens, rollout.mask, rollout.eos)
    render = trainer.task.vocab.render
    render_source = getattr(trainer.task, "render_source", render)
    table = Table("source", "reference", "output", "reward")
    reward_fn = trainer.task.reward if trainer.cfg.task.per_token else trainer.reward_fn
    scored = evaluate_rewards(reward_fn, outputs, [list(e.target) if e.target is not None else None
                                                   for e in examples for _ in range(rollout.k)],
                              [list(e.source) for e in examples for _ in range(rollout.k)], None,
                              step=trainer.state.step, render=render)
    for i, out in enumerate(outputs):
        ex = examples[i // rollout.k]
        table.add_row(render_source(ex.source), render(ex.target) if ex.target is not None else "-", render(out),
                      f"{float(scored.values[i]):.3f}" if scored.valid[i] else "-")
    Console().print(table)
    return 0


def _plot(args: argparse.Namespace) -> int:
    path = plot_runs(args.run_dirs, args.output)
    print(path)
    return 0


def _list(args: argparse.Namespace) -> int:
    out = Console()
    for title, rows in (("tasks", describe_tasks()), ("policies", list(POLICIES.items())),
                        ("baselines", list(BASELINES.items())), ("curricula", list(CURRICULA.items()))):
        table = Table("name", "description", title=title, title_justify="left")
        for name, text in rows:
            table.add_row(name, text)
        out.print(table)
    return 0


def _config(args: argparse.Namespace) -> int:
    if args.keys:
        table = Table("key", "type", "default", "meaning")
        for key, tp, default, doc in describe(Config):
            table.add_row(key, tp, repr(default), doc)
        Console().print(table)
        return 0
    cfg = load_config(*_config_args(args))
    print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seqrl", description="REINFORCE for sequence generators.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train from a YAML config (default: the reverse demo)")
    t.add_argument("config", nargs="?", help="YAML config file")
    t.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. optim.lr=1e-3 (with --resume: "
                                                "only optim.steps, run.* logging/checkpoint settings, reward workers)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint that verifies")
    t.add_argument("--run-dir", help="where to write the run (default: run.dir or runs/<task>-<time>)")
    t.set_defaults(fn=_train)
    e = sub.add_parser("eval", help="greedy or beam decoding of a split; corpus scores and a hypotheses file")
    e.add_argument("run_dir")
    e.add_argument("--checkpoint", help="a step, 'best' (best validation score) or 'latest' (default)")
    e.add_argument("--data", help="text runs: data to evaluate, in the run's data.format (a parallel-file "
                                  "prefix, a TSV/JSONL file or a saved dataset); default: the validation set")
    e.add_argument("--split", default="validation", help="name of the split (picks the split of a saved "
                                                          "dataset; names the output files)")
    e.add_argument("--beam", type=int, help="beam search of this width instead of greedy decoding")
    e.add_argument("--length-penalty", type=float, default=1.0,
                   help="beam search: GNMT length-penalty exponent alpha (0 = raw log-probability)")
    e.set_defaults(fn=_eval)
    s = sub.add_parser("sample", help="show sampled or greedy outputs of a run on validation inputs")
    s.add_argument("run_dir")
    s.add_argument("--n", type=int, default=5, help="validation inputs")
    s.add_argument("--k", type=int, default=1, help="samples per input")
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--greedy", action="store_true")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--checkpoint", help="a step, 'best' or 'latest' (default)")
    s.set_defaults(fn=_sample)
    pl = sub.add_parser("plot", help="reward and validation curves of runs as a PNG")
    pl.add_argument("run_dirs", nargs="+")
    pl.add_argument("-o", "--output", required=True, help="PNG file to write")
    pl.set_defaults(fn=_plot)
    ls = sub.add_parser("list", help="built-in tasks, policies, baselines and curricula")
    ls.set_defaults(fn=_list)
    c = sub.add_parser("config", help="print the resolved config, or every key with --keys")
    c.add_argument("config", nargs="?")
    c.add_argument("overrides", nargs="*")
    c.add_argument("--keys", action="store_true", help="list every key, its type, default and meaning")
    c.set_defaults(fn=_config)
    return p


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except ConfigError as err:
        console.print(f"[red]config error:[/red] {escape(_one_line(err))}", markup=True, highlight=False)
        return 2
    except (RewardError, TrainingError, RunError, DataError, FileNotFoundError) as err:
        console.print(f"[red]error:[/red] {escape(_one_line(err))}", markup=True, highlight=False)
        return 1
    except OSError as err:  # the file system: read-only, full, a path that is a file, ...
        where = f"{err.filename}: " if err.filename else ""
        console.print(f"[red]error:[/red] {escape(where + str(err.strerror or err))}", markup=True, highlight=False)
        return 1
    except KeyboardInterrupt:
        console.print("interrupted; the last checkpoint is kept")
        return 130


if __name__ == "__main__":
    sys.exit(main())
