"""Multi30k German->English: cross-entropy, then REINFORCE fine-tuning on sentence BLEU.

    python benchmarks/multi30k_benchmark.py [--quick] [--work runs/multi30k-benchmark]
                                            [--out benchmarks/results/multi30k.json]

Stage 1 trains `configs/multi30k.yaml` (GRU attention seq2seq, cross-entropy). Stage 2 starts
each REINFORCE variant (`configs/multi30k_{scst,rloo,mixer}.yaml`) from the best cross-entropy
checkpoint (highest validation BLEU; `run.init_from` = the stage-1 run directory), and a control
row continues cross-entropy from the same checkpoint for the same number of steps
(`configs/multi30k_xent_more.yaml`), so a gain can be told apart from "more training".

Every row is the run's best-validation-BLEU checkpoint (model selection on validation only),
decoded greedily and with beam search on validation and on test_2016_flickr, scored by sacreBLEU
on detokenized, cased text (corpus BLEU and chrF, signatures in the JSON). Wall time is the
stage's own process (data, tokenizer, training, validations); peak memory is that process's
peak RSS. Each stage is a separate `python -m seqrl train` process, as a user would run it.

Writes the JSON to --out, a Markdown table next to it (.md) and the validation-BLEU-vs-time
plot beside the results (benchmarks/results/multi30k.png). `--quick` is a smoke test: a few steps per stage, small
validation/test subsets, nothing written to docs/.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "multi30k"
BEAM, LENGTH_PENALTY = 5, 1.0
# (row name, config, what it is)
STAGES = [
    ("cross-entropy", "configs/multi30k.yaml", "cross-entropy (teacher forcing)"),
    ("+ SCST", "configs/multi30k_scst.yaml", "REINFORCE, self-critical greedy baseline"),
    ("+ RLOO", "configs/multi30k_rloo.yaml", "REINFORCE, leave-one-out baseline"),
    ("+ MIXER", "configs/multi30k_mixer.yaml", "MIXER: cross-entropy prefix, REINFORCE suffix, learned baseline"),
    ("+ cross-entropy (control)", "configs/multi30k_xent_more.yaml", "cross-entropy continued (control)"),
]
QUICK = ["optim.steps=4", "run.eval_every=2", "run.checkpoint_every=2", "data.max_train=500",
         "data.max_valid=16", "reinforce.max_len=12", "optim.batch_size=8"]
QUICK_EVAL_LIMIT = 16


def _slug(name: str) -> str:
    return "".join(c for c in name.lower().replace(" ", "-") if c.isalnum() or c == "-").strip("-")


def train_stage(config: str, run_dir: Path, overrides: list[str], threads: int, reuse: bool = False,
                after: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run `python -m seqrl train` in its own process; its wall time, summary and curve.
    reuse=True keeps a run this script trained before with the same resolved config (its measured
    wall time is in stage.json) and the same `after` (what it started from, e.g. the start run's
    own stamp: a retrained start retrains what follows it); any other run is trained again."""
    settings = [*overrides, f"run.threads={threads}", "run.progress=false"]
    fingerprint = stage_fingerprint(config, settings)
    if after is not None:
        fingerprint["after"] = after
    stamp = run_dir / "stage.json"
    if reuse and stamp.exists() and (run_dir / "summary.jsonl").exists():
        kept = json.loads(stamp.read_text())
        if same_config(kept.get("config") or {}, fingerprint):
            print(f"reusing {run_dir} (trained in {kept['wall_s']:.0f} s)", flush=True)
            return {**_stage_result(run_dir, kept["wall_s"]), "reused": True}
        print(f"not reusing {run_dir}: trained with another config", flush=True)
    if run_dir.exists():
        from seqrl.run.lock import RunDirBusy, RunLock

        lock = RunLock(run_dir)
        try:  # a run another benchmark process is training is never deleted
            lock.acquire()
        except RunDirBusy as err:
            raise SystemExit(f"not retraining {run_dir}: {err}") from None
        lock.release()
        aside = run_dir.with_name(run_dir.name + ".previous")  # kept until the next retraining: never lost at once
        if aside.exists():
            shutil.rmtree(aside)
        run_dir.rename(aside)
        print(f"moved the old run to {aside}", flush=True)
    cmd = [sys.executable, "-m", "seqrl", "train", config, *settings, "--run-dir", str(run_dir)]
    print("$", " ".join(cmd), flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"stage failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    stamp.write_text(json.dumps({"wall_s": wall, "config": fingerprint}))
    return {**_stage_result(run_dir, wall), "reused": False}


def stage_fingerprint(config: str, settings: list[str]) -> dict[str, Any]:
    """The resolved, validated config a stage trains with (without run.dir, which --run-dir sets)."""
    from seqrl.config.io import load_config
    from seqrl.config.validate import to_dict

    resolved = to_dict(load_config(ROOT / config, settings))
    resolved["run"].pop("dir", None)
    return resolved


def same_config(kept: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether a stage trained with resolved config `kept` is the one `now` asks for. `kept` is
    resolved again by the schema, as an old run's config.yaml is: a key a later seqrl added reads as
    its default (so a new option at its default retrains nothing), a key seqrl no longer has fails."""
    from seqrl.config import Config, ConfigError, from_dict, to_dict

    kept, now = dict(kept), dict(now)
    if kept.pop("after", None) != now.pop("after", None):  # what the stage started from
        return False
    try:
        resolved = to_dict(from_dict(Config, kept))
    except ConfigError:
        return False
    resolved["run"].pop("dir", None)  # as stage_fingerprint leaves it out
    return resolved == now


def _stage_result(run_dir: Path, wall: float) -> dict[str, Any]:
    summary = [json.loads(line) for line in (run_dir / "summary.jsonl").read_text().splitlines()][-1]
    curve = [{"step": r["step"], "seconds": r["seconds"], "bleu": r["bleu"], "chrf": r["chrf"]}
             for r in map(json.loads, (run_dir / "eval.jsonl").read_text().splitlines())]
    return {"wall_s": wall, "summary": summary, "curve": curve}


def evaluate(run_dir: Path, threads: int, limit: int | None) -> dict[str, Any]:
    """Best checkpoint of a run: validation and test, greedy and beam."""
    import torch

    from seqrl.sequences.evaluation import evaluate_run
    from seqrl.sources import resume

    trainer = resume(run_dir)
    torch.set_num_threads(threads)
    best_step = trainer.load_file(trainer.checkpoint_dir / "best.safetensors")
    out: dict[str, Any] = {"best_step": best_step}
    for split, prefix in (("validation", "val"), ("test", "test_2016_flickr")):
        for beam in (None, BEAM):
            data = str(DATA / prefix)
            started = time.perf_counter()
            if limit:
                res = _limited(trainer, data, split, beam, limit)
            else:
                res = evaluate_run(trainer, data, split, beam, LENGTH_PENALTY)
            key = f"{split}_{'beam' if beam else 'greedy'}"
            out[key] = {k: res[k] for k in ("bleu", "chrf", "bleu_signature", "chrf_signature", "size")}
            out[key]["decode_s"] = time.perf_counter() - started
    return out


def _limited(trainer, data: str, split: str, beam, limit: int) -> dict[str, Any]:  # noqa: ANN001
    from seqrl.rewards.corpus import corpus_scores
    from seqrl.sequences.evaluation import eval_examples

    examples = eval_examples(trainer, data, split)[0][:limit]
    hyps = trainer.source.task.detokenize(trainer.source.decode(examples, beam, LENGTH_PENALTY))
    res = corpus_scores(hyps, [list(e.reference_texts) for e in examples], ("bleu", "chrf"), signatures=True)
    return {**res, "size": len(examples)}


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Validation BLEU against training time: the whole benchmark, and stage 2 enlarged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (whole, zoom) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1, 1.3]})
    base, start = rows[0], rows[0]["curve_offset_s"]
    whole.plot([p["seconds"] / 60 for p in base["curve"]], [p["bleu"] for p in base["curve"]], "k-o", ms=3,
               label=base["name"])
    zoom.axhline(rows[1]["start_bleu"] if len(rows) > 1 else base["curve"][-1]["bleu"], color="k", lw=1,
                 ls="--", label=f"{base['name']} (start)")
    for i, row in enumerate(rows[1:]):
        pts = row["curve"]
        xs, ys = [0.0] + [p["seconds"] / 60 for p in pts], [row["start_bleu"]] + [p["bleu"] for p in pts]
        colour = f"C{i}"
        whole.plot([start / 60 + x for x in xs], ys, "-", color=colour, label=row["name"])
        zoom.plot(xs, ys, "-o", ms=3, color=colour, label=row["name"])
    whole.axvline(start / 60, color="grey", lw=0.8, ls=":")
    whole.set_xlabel("training time (minutes, 2-core CPU)")
    whole.set_ylabel("validation BLEU (sacreBLEU, greedy)")
    whole.set_title("cross-entropy, then fine-tuning")
    zoom.set_xlabel("minutes since the best cross-entropy checkpoint")
    zoom.set_title("stage 2, from the best cross-entropy checkpoint")
    for ax in (whole, zoom):
        ax.grid(alpha=0.3)
    zoom.legend(fontsize=8)
    fig.suptitle("Multi30k De->En: REINFORCE on sentence BLEU")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"Multi30k De->En, {res['environment']['cpu_model']} ({res['environment']['cores']} cores, "
        f"{res['threads']} torch threads), {res['environment']['date']}. BLEU/chrF: sacreBLEU on detokenized cased "
        f"text, best-validation checkpoint of each run; beam {BEAM}, length penalty {LENGTH_PENALTY}.",
        "",
        "| model | val BLEU greedy | val BLEU beam | test BLEU greedy | test BLEU beam | test chrF greedy "
        "| Δ test greedy | Δ test beam | wall time | peak memory |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = res["rows"][0]["eval"]
    for row in res["rows"]:
        e = row["eval"]
        d_g = e["test_greedy"]["bleu"] - base["test_greedy"]["bleu"]
        d_b = e["test_beam"]["bleu"] - base["test_beam"]["bleu"]
        lines.append(
            f"| {row['name']} | {e['validation_greedy']['bleu']:.2f} | {e['validation_beam']['bleu']:.2f} | "
            f"{e['test_greedy']['bleu']:.2f} | {e['test_beam']['bleu']:.2f} | {e['test_greedy']['chrf']:.2f} | "
            f"{'' if row is res['rows'][0] else f'{d_g:+.2f}'} | {'' if row is res['rows'][0] else f'{d_b:+.2f}'} | "
            f"{row['wall_s'] / 60:.1f} min | {row['summary']['peak_rss_mib']:.0f} MiB |")
    lines += ["", f"Whole benchmark (all stages and evaluations): {res['total_wall_s'] / 60:.1f} min. "
              f"Signature: `{base['test_greedy']['bleu_signature']}`."]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke test: a few steps per stage, small subsets")
    p.add_argument("--work", default="runs/multi30k-benchmark", help="directory for the runs")
    p.add_argument("--out", default="benchmarks/results/multi30k.json")
    p.add_argument("--threads", type=int, default=2, help="torch threads per stage")
    p.add_argument("--skip-control", action="store_true", help="leave out the cross-entropy control row")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the Markdown table and the plot from --out without training")
    p.add_argument("--reuse", action="store_true",
                   help="keep any stage this script trained before in --work with the same config "
                        "(its measured wall time counts)")
    args = p.parse_args()
    work, out = (ROOT / args.work).resolve(), (ROOT / args.out).resolve()
    if args.report_only:  # needs only the JSON, not the data
        res = json.loads(out.read_text())
        write_report(res, out, res["mode"] == "quick")
        return 0
    if not (DATA / "train.de.gz").exists():
        raise SystemExit(f"Multi30k is not at {DATA} (the benchmark reads ../shared/data/multi30k)")
    work.mkdir(parents=True, exist_ok=True)
    extra = QUICK if args.quick else []
    limit = QUICK_EVAL_LIMIT if args.quick else None
    began = time.perf_counter()
    reused_s = 0.0  # wall time of kept stages, measured when they were trained
    stage1_kept = False  # a stage-2 run is kept only if the stage-1 run it started from was
    rows: list[dict[str, Any]] = []
    stages = [s for s in STAGES if not (args.skip_control and "control" in s[0])]
    xent_dir = work / _slug(stages[0][0])
    for i, (name, config, what) in enumerate(stages):
        run_dir = work / _slug(name)
        overrides = list(extra) if i == 0 else [*extra, f"run.init_from={xent_dir}"]
        row = {"name": name, "what": what, "config": config, "overrides": overrides, "run_dir": str(run_dir),
               **train_stage(config, run_dir, overrides, args.threads, reuse=args.reuse and (i == 0 or stage1_kept))}
        if row.pop("reused"):
            reused_s += row["wall_s"]
            stage1_kept = stage1_kept or i == 0  # stays False if stage 1 was retrained
        row["eval"] = evaluate(run_dir, args.threads, limit)
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("name", "wall_s")} | {"eval": {k: v["bleu"] if isinstance(v, dict) else v
                                                                             for k, v in row["eval"].items()}}), flush=True)
    best = next(p for p in rows[0]["curve"] if p["step"] == rows[0]["eval"]["best_step"])
    rows[0]["curve_offset_s"] = best["seconds"]
    for row in rows[1:]:
        row["start_bleu"] = best["bleu"]
    res = {
        "mode": "quick" if args.quick else "full",
        "threads": args.threads,
        "beam": BEAM, "length_penalty": LENGTH_PENALTY,
        "environment": _environment(),
        "rows": rows,
        "total_wall_s": time.perf_counter() - began + reused_s,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    write_report(res, out, args.quick)
    return 0


def write_report(res: dict[str, Any], out: Path, quick: bool) -> None:
    """The Markdown table and the plot beside the JSON."""
    out.with_suffix(".md").write_text(markdown(res))
    plot(res["rows"], out.with_suffix(".png"))
    print(markdown(res))


def _environment() -> dict[str, Any]:
    import torch

    from measure import cpu_flags, cpu_model  # beside this script

    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "python": platform.python_version(),
            "torch_version": torch.__version__, "cpu_model": cpu_model(), "isa": cpu_flags(), "cores": os.cpu_count()}


if __name__ == "__main__":
    sys.exit(main())
