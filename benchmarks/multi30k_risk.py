"""Multi30k De->En: sequence-level risk (configs/multi30k_risk.yaml), or SCST, RLOO or MIXER, against a
cross-entropy control, over seeds.

    python benchmarks/multi30k_risk.py [--seeds 0,1,2] [--quick] [--work runs/multi30k-benchmark]
                                       [--out benchmarks/results/multi30k_risk.json]
                                       [--start-set optim.steps=6000]   # a longer-trained start, its own run dir
                                       [--rows scst,rloo,control]       # other stage-2 methods, same start

Stage 1 is the Multi30k benchmark's cross-entropy run (`configs/multi30k.yaml`, seed 0), kept in
--work and reused when it was trained before with the same config (benchmarks/multi30k_benchmark.py
trains the same run). Each stage-2 row starts from its best-validation checkpoint, once per seed
(`run.seed`: the sampling, data order and dropout streams; the start is the same for every seed):

- "+ risk": minimum risk training over 4 samples and 4 beam hypotheses per input;
- "+ SCST", "+ RLOO", "+ MIXER" (`--rows scst,rloo,mixer`): the Multi30k benchmark's REINFORCE rows
  (`configs/multi30k_{scst,rloo,mixer}.yaml`), for their spread over seeds;
- "+ cross-entropy (control)": cross-entropy continued for as many steps as the method rows
  (`configs/multi30k_xent_more.yaml`), so a gain can be told apart from more training.

Every run is scored by its best-validation checkpoint on test_2016_flickr, greedy and beam 5
(sacreBLEU, detokenized, cased), as in the Multi30k benchmark. The report gives each row's median
and range over the seeds, and each seed's numbers. The report seeds (0-2) were not tuned on: the
risk settings were chosen on seed 10 (see the config's comments).
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import multi30k_benchmark as m30k  # noqa: E402 - beside this script
import paired_bootstrap  # noqa: E402 - beside this script

ROOT = m30k.ROOT
# --rows key: (row name, config); "control" last, so each seed's method rows come before its control
METHODS = {"risk": ("+ risk", "configs/multi30k_risk.yaml"), "scst": ("+ SCST", "configs/multi30k_scst.yaml"),
           "rloo": ("+ RLOO", "configs/multi30k_rloo.yaml"), "mixer": ("+ MIXER", "configs/multi30k_mixer.yaml")}
CONTROL = ("+ cross-entropy (control)", "configs/multi30k_xent_more.yaml")
ROWS = [*METHODS.values(), CONTROL]
KEYS = ("validation_greedy", "validation_beam", "test_greedy", "test_beam")


def run(work: Path, seeds: list[int], threads: int, quick: bool, rows: list[tuple[str, str]],
        start_threads: int, save: Callable[[dict[str, Any]], None], settings: dict[str, list[str]] | None = None,
        tag: str = "") -> dict[str, Any]:
    """Train and score the start and every (seed, row); `save` gets the results so far after each.
    `settings`: overrides per row kind ("method": the risk/SCST/RLOO/MIXER rows, "control", "both"),
    from --set, --set-control and --steps, and of the cross-entropy start ("start", from --start-set:
    trained in a run directory of its own, so the benchmark's start is kept); `tag` names the run
    directories of a tuning run apart from the benchmark's."""
    settings = settings or {}
    extra = m30k.QUICK if quick else []
    limit = m30k.QUICK_EVAL_LIMIT if quick else None
    start_settings = settings.get("start", [])
    xent_dir = work / start_dir_name(start_settings)
    start = {"name": "cross-entropy", "config": m30k.STAGES[0][1], "run_dir": str(xent_dir),
             **m30k.train_stage(m30k.STAGES[0][1], xent_dir, [*extra, *start_settings], start_threads, reuse=True)}
    start["eval"] = start_eval(xent_dir, threads, limit, start.pop("reused"))
    started_from = json.loads((xent_dir / "stage.json").read_text())  # the start run as trained
    out: list[dict[str, Any]] = []
    for seed in seeds:  # seed by seed: a cut-short benchmark still has both rows of its first seeds
        for name, config in rows:
            run_dir = work / f"{m30k._slug(name)}{'-' + tag if tag else ''}-seed{seed}"
            mine = [*settings.get("both", []), *settings.get(_kind(name), [])]
            overrides = [*extra, *mine, f"run.init_from={xent_dir}", f"run.seed={seed}"]
            row = {"name": name, "config": config, "seed": seed, "overrides": overrides, "run_dir": str(run_dir),
                   "settings": settings.get(_kind(name), []),  # this row's --set or --set-control
                   **m30k.train_stage(config, run_dir, overrides, threads, reuse=True, after=started_from)}
            row.pop("reused")
            row["eval"] = m30k.evaluate(run_dir, threads, limit)
            out.append(row)
            print(json.dumps({"name": name, "seed": seed, "wall_s": row["wall_s"],
                              **{k: row["eval"][k]["bleu"] for k in KEYS}}), flush=True)
            save({"start": start, "rows": out})  # a cut-short benchmark keeps what it measured
    return {"start": start, "rows": out}


def start_dir_name(start_settings: list[str]) -> str:
    """The start's run directory: `cross-entropy` (the Multi30k benchmark's), or one named by its
    overrides, e.g. `cross-entropy-optim.steps-6000`."""
    if not start_settings:
        return "cross-entropy"
    return "cross-entropy-" + "-".join(re.sub(r"[^A-Za-z0-9._]+", "-", s) for s in start_settings)


def _kind(name: str) -> str:
    """Which overrides a row takes: "control" (--set-control) or "method" (--set)."""
    return "control" if "control" in name else "method"


def _method_settings(settings: dict[str, list[str]]) -> list[str]:
    """The method rows' overrides; results files written before SCST/RLOO/MIXER rows call them "risk"."""
    return settings.get("method", settings.get("risk", []))


def method_steps(configs: list[str], overrides: list[str]) -> int:
    """optim.steps of the method rows' resolved configs (with the --set overrides); they must agree,
    since the control is as long as they are."""
    from seqrl.config.io import load_config

    steps = {config: load_config(ROOT / config, overrides).optim.steps for config in configs}
    if len(set(steps.values())) > 1:
        raise ValueError("the rows train for different optim.steps ("
                         + ", ".join(f"{Path(c).stem} {n}" for c, n in steps.items())
                         + "); run them apart, or give --steps")
    return next(iter(steps.values()))


def start_eval(xent_dir: Path, threads: int, limit: int | None, reused: bool) -> dict[str, Any]:
    """The start's scores; a reused start keeps the scores an earlier process measured on the same
    best checkpoint (decoding is deterministic), so parallel benchmark processes decode it once."""
    cache = xent_dir / "benchmark_eval.json"
    best = xent_dir / "checkpoints" / "best.safetensors"
    key = {"limit": limit, "threads": threads, "best_mtime_ns": best.stat().st_mtime_ns if best.exists() else None}
    if reused and cache.exists():
        kept = json.loads(cache.read_text())
        if kept.get("key") == key:
            return kept["eval"]
    scores = m30k.evaluate(xent_dir, threads, limit)
    cache.write_text(json.dumps({"key": key, "eval": scores}))
    return scores


def row_settings(res: dict[str, Any]) -> dict[str, list[str]]:
    """Each row kind's overrides beyond the configs and `both`, by its label ("risk", "SCST", "control"):
    the row's own record, or for files written before rows kept one, the file's settings of its kind."""
    given = res.get("settings", {})
    out: dict[str, list[str]] = {}
    for r in res["rows"]:
        kind = _kind(r["name"])
        label = "control" if kind == "control" else r["name"].removeprefix("+ ")
        fallback = given.get("control", []) if kind == "control" else _method_settings(given)
        out.setdefault(label, r.get("settings", fallback))
    return out


def hypotheses(run_dir: str, best_step: int, key: str) -> Path:
    """The decoded test or validation file of a run's best checkpoint (written by its evaluation)."""
    split, decoding = key.split("_")
    decoded = f"beam{m30k.BEAM}" if decoding == "beam" else "greedy"
    return Path(run_dir) / "eval" / f"{split}.{decoded}.step{best_step}.txt"


def add_intervals(res: dict[str, Any], samples: int = 1000) -> None:
    """Each run's test gains over the start with their 95% paired-bootstrap intervals
    (benchmarks/paired_bootstrap.py), where its and the start's decoded files are on this machine
    and the run has none yet (a clean clone has the results file but not the runs)."""
    refs = m30k.DATA / "test_2016_flickr.en.gz"
    start = res["start"]
    references = paired_bootstrap.read_lines(refs) if refs.exists() else None
    for key in ("test_greedy", "test_beam"):
        base = stats_of(hypotheses(start["run_dir"], start["eval"]["best_step"], key), references, start["eval"][key])
        for row in res["rows"]:
            if base is None or key in row.get("intervals", {}):
                continue
            mine = stats_of(hypotheses(row["run_dir"], row["eval"]["best_step"], key), references, row["eval"][key])
            if mine is not None:
                row.setdefault("intervals", {})[key] = paired_bootstrap.paired_bootstrap(base, mine, samples=samples)


def stats_of(path: Path, references: list[str] | None, scored: dict[str, Any]) -> Any:
    """The sentence statistics of a decoded file, or None where there is no interval to give: the file or
    the references are absent, it is a subset (a --quick run), or it does not reproduce the BLEU the run
    was scored with (retrained since)."""
    if references is None or not path.exists():
        return None
    lines = paired_bootstrap.read_lines(path)
    if len(lines) != len(references):
        return None
    stats = paired_bootstrap.segment_stats(lines, references)
    return stats if abs(paired_bootstrap.corpus_bleu(stats.sum(0)) - scored["bleu"]) <= 1e-6 else None


def merge(paths: list[Path]) -> dict[str, Any]:
    """One result from several processes' files (run in parallel on the same start): the rows of
    all, each (row, seed) once, in seed order."""
    parts = [json.loads(p.read_text()) for p in paths]
    base = parts[0]
    def scores(part: dict[str, Any]) -> dict[str, Any]:  # the start's scores, without its decoding times
        return {k: {kk: vv for kk, vv in v.items() if kk != "decode_s"} if isinstance(v, dict) else v
                for k, v in part["start"]["eval"].items()}

    for other, path in zip(parts[1:], paths[1:]):
        if scores(other) != scores(base):
            raise SystemExit(f"{path}: its start was scored differently from {paths[0]}'s; not the same start")
    rows = {(r["name"], r["seed"]): r for part in parts for r in part["rows"]}
    order = [n for n, _ in ROWS]
    settings = dict(base.get("settings", {}))
    for part in parts:  # each row kind's overrides from the process that ran it
        for kind in {_kind(r["name"]) for r in part["rows"]}:
            given = part.get("settings", {})
            settings[kind] = given.get(kind, []) if kind == "control" else _method_settings(given)
    if "risk" in settings:  # the old name of "method"
        settings.setdefault("method", settings.pop("risk"))
    res = {**base, "settings": settings,
           "rows": sorted(rows.values(), key=lambda r: (r["seed"], order.index(r["name"]))),
           "merged_from": [str(p) for p in paths], "total_wall_s": sum(p["total_wall_s"] for p in parts)}
    res["seeds"] = sorted({r["seed"] for r in res["rows"]})
    res["summary"] = summarise(res)
    return res


def summarise(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Per row name: median, min and max over seeds of each score and of its gain over the start."""
    base = res["start"]["eval"]
    table = []
    for name in dict.fromkeys(r["name"] for r in res["rows"]):
        runs = [r for r in res["rows"] if r["name"] == name]
        entry: dict[str, Any] = {"name": name, "seeds": [r["seed"] for r in runs]}
        for key in KEYS:
            gains = [r["eval"][key]["bleu"] - base[key]["bleu"] for r in runs]
            entry[key] = {"median": statistics.median(r["eval"][key]["bleu"] for r in runs),
                          "gain_median": statistics.median(gains), "gain_min": min(gains), "gain_max": max(gains)}
        entry["wall_s_median"] = statistics.median(r["wall_s"] for r in runs)
        table.append(entry)
    return table


def markdown(res: dict[str, Any]) -> str:
    env, base, purpose = res["environment"], res["start"]["eval"], res.get("purpose", "benchmark")
    methods = [n.removeprefix("+ ") for n in dict.fromkeys(r["name"] for r in res["rows"]) if _kind(n) == "method"]
    names = ["sequence-level risk" if m == "risk" else m for m in methods] or ["sequence-level risk"]
    what = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    lines = [
        f"Multi30k De->En, {what} vs a cross-entropy control; {env['cpu_model']} ({env['cores']} cores, "
        f"{res['threads']} torch thread(s) in stage 2), {env['date']}. "
        f"{'Both rows start' if len(row_settings(res)) == 2 else 'Every row starts'} from the same cross-entropy checkpoint (best "
        f"validation BLEU, step {base['best_step']}"
        f"{'; trained with `' + ' '.join(res['settings']['start']) + '` over configs/multi30k.yaml' if res.get('settings', {}).get('start') else ''}"
        f"); seeds {', '.join(map(str, res['seeds']))} of stage 2, "
        f"{'none tuned on' if purpose == 'benchmark' else 'a ' + purpose}. sacreBLEU on detokenized cased text, "
        f"best-validation checkpoint of each run; beam {m30k.BEAM}.",
        *(["", f"Settings beyond the configs ({purpose}): "
           + ", ".join(f"{label} row `{' '.join(given) or '-'}`" for label, given in row_settings(res).items())
           + f", {'both rows' if len(row_settings(res)) == 2 else 'every row'} "
           f"`{' '.join(res['settings'].get('both', [])) or '-'}`."] if any(v for k, v in res.get("settings", {}).items()
                                                                 if k != "start") else []),
        "",
        "| row | test BLEU greedy (median) | Δ greedy median [min, max] | test BLEU beam (median) | "
        "Δ beam median [min, max] | Δ val greedy | Δ val beam | wall time (median) |",
        "|---|---|---|---|---|---|---|---|",
        f"| start (cross-entropy) | {base['test_greedy']['bleu']:.2f} | | {base['test_beam']['bleu']:.2f} | | | | |",
    ]
    for e in res["summary"]:
        g, b = e["test_greedy"], e["test_beam"]
        lines.append(
            f"| {e['name']} | {g['median']:.2f} | {g['gain_median']:+.2f} [{g['gain_min']:+.2f}, {g['gain_max']:+.2f}] "
            f"| {b['median']:.2f} | {b['gain_median']:+.2f} [{b['gain_min']:+.2f}, {b['gain_max']:+.2f}] "
            f"| {e['validation_greedy']['gain_median']:+.2f} | {e['validation_beam']['gain_median']:+.2f} "
            f"| {e['wall_s_median'] / 60:.1f} min |")
    shown = any(r.get("intervals") for r in res["rows"])
    lines += ["", "Each run" + (": Δ is the test gain over the start, with its 95% interval over 1,000 paired bootstrap "
                                "resamples of the test sentences (`benchmarks/paired_bootstrap.py`)" if shown else "")
              + ":", "",
              "| row | seed | best step | test greedy | test beam | val greedy | val beam |"
              + (" Δ greedy [95%] | Δ beam [95%] |" if shown else ""),
              "|---|---|---|---|---|---|---|" + ("---|---|" if shown else "")]

    def interval(r: dict[str, Any], key: str) -> str:
        i = r.get("intervals", {}).get(key)
        return f" {i['gain']:+.2f} [{i['low']:+.2f}, {i['high']:+.2f}] |" if i else " |"

    for r in res["rows"]:
        e = r["eval"]
        lines.append(f"| {r['name']} | {r['seed']} | {e['best_step']} | {e['test_greedy']['bleu']:.2f} | "
                     f"{e['test_beam']['bleu']:.2f} | {e['validation_greedy']['bleu']:.2f} | "
                     f"{e['validation_beam']['bleu']:.2f} |"
                     + (interval(r, "test_greedy") + interval(r, "test_beam") if shown else ""))
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="0,1,2", help="stage-2 seeds, comma-separated")
    p.add_argument("--quick", action="store_true", help="smoke test: a few steps per stage, small subsets")
    p.add_argument("--work", default="runs/multi30k-benchmark", help="directory for the runs (shared with "
                   "multi30k_benchmark.py: its cross-entropy run is reused)")
    p.add_argument("--out", default="benchmarks/results/multi30k_risk.json")
    p.add_argument("--threads", type=int, default=2, help="torch threads of the stage-2 runs and evaluations")
    p.add_argument("--start-threads", type=int, default=2,
                   help="torch threads of the cross-entropy start (2: the Multi30k benchmark's, so its run is reused)")
    p.add_argument("--rows", default="risk,control",
                   help=f"which rows, comma-separated: {', '.join(METHODS)}, control")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override for the method rows (risk, SCST, ...; repeatable): tuning, reported as such")
    p.add_argument("--set-control", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override for the control row (repeatable), e.g. its learning rate to match the "
                        "risk row's")
    p.add_argument("--start-set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override for the cross-entropy start (repeatable), e.g. optim.steps=6000 for a "
                        "start trained closer to convergence; trained in its own run directory")
    p.add_argument("--steps", type=int, help="optim.steps of every row (default: the method rows' configs', so the "
                   "control is as long as they are)")
    p.add_argument("--tag", default="", help="run directories <row>-<tag>-seed<N> (a tuning run beside the benchmark's)")
    p.add_argument("--purpose", default="benchmark", help="what the results are for (e.g. 'tuning'), in the report")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the Markdown from --out (adding the runs' bootstrap intervals where their files are here)")
    p.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                   help="combine the results files of processes run in parallel (e.g. --rows risk on one core, "
                        "--rows control on the other) into --out")
    args = p.parse_args()
    out = (ROOT / args.out).resolve()
    if args.merge:
        res = merge(args.merge)
        add_intervals(res)
        out.write_text(json.dumps(res, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(res))
        print(markdown(res))
        return 0
    if args.report_only:
        res = json.loads(out.read_text())
        before = json.dumps(res)
        add_intervals(res)  # the runs' intervals, where their decoded files are on this machine
        if json.dumps(res) != before:
            out.write_text(json.dumps(res, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(res))
        return 0
    for flag, given in (("--set", args.set), ("--set-control", args.set_control), ("--start-set", args.start_set)):
        if any("=" not in s for s in given):
            p.error(f"{flag}: expected KEY=VALUE, got {next(s for s in given if '=' not in s)!r}")
    wanted = [w.strip() for w in args.rows.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in (*METHODS, "control")]
    if unknown or not wanted:
        p.error(f"--rows: unknown row {unknown[0]!r}" if unknown else "--rows: no rows given")
    rows = [r for key, r in METHODS.items() if key in wanted] + ([CONTROL] if "control" in wanted else [])
    from seqrl.config import ConfigError
    from seqrl.config.io import load_config

    try:  # every --set is checked against the schema before anything trains
        # the control is as long as the method rows (the risk config's without any), unless --steps says
        steps = method_steps([c for n, c in rows if _kind(n) == "method"] or [METHODS["risk"][1]], args.set)
    except ConfigError as err:
        p.error(f"--set: {err}")
    except ValueError as err:
        if args.steps is None:
            p.error(f"--rows: {err}")
        steps = args.steps
    try:
        load_config(ROOT / CONTROL[1], args.set_control)
    except ConfigError as err:
        p.error(f"--set-control: {err}")
    try:
        load_config(ROOT / m30k.STAGES[0][1], args.start_set)
    except ConfigError as err:
        p.error(f"--start-set: {err}")
    if args.quick:  # a few steps, as the Multi30k benchmark's --quick
        steps = int(next(s.split("=", 1)[1] for s in m30k.QUICK if s.startswith("optim.steps=")))
    steps = args.steps or steps
    settings = {"method": list(args.set), "control": list(args.set_control), "both": [f"optim.steps={steps}"],
                "start": list(args.start_set)}
    if not (m30k.DATA / "train.de.gz").exists():
        raise SystemExit(f"Multi30k is not at {m30k.DATA} (the benchmark reads ../shared/data/multi30k)")
    seeds = [int(s) for s in args.seeds.split(",")]
    work = (ROOT / args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    head = {"mode": "quick" if args.quick else "full", "threads": args.threads, "start_threads": args.start_threads,
            "seeds": seeds, "settings": settings, "tag": args.tag, "purpose": args.purpose,
            "environment": m30k._environment()}

    def save(part: dict[str, Any]) -> None:
        res = {**head, **part, "total_wall_s": time.perf_counter() - began}
        res["seeds"] = sorted({r["seed"] for r in part["rows"]})  # the seeds measured so far
        res["summary"] = summarise(res)
        add_intervals(res)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(res))

    run(work, seeds, args.threads, args.quick, rows, args.start_threads, save, settings, args.tag)
    print(out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
