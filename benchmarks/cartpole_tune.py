"""Tuning runs for the CartPole configs: one runner with extra overrides on a range of seeds, each seed
in its own process (1 torch thread), judged by cartpole_benchmark.py's rule (the mean of the last 100
training episodes reaches 475). Appends a record to benchmarks/results/cartpole_tuning.json and
rewrites cartpole_tuning.md, so what a config was chosen on is on file.

    python benchmarks/cartpole_tune.py seqrl_reinforce 0-14 model.hidden_dim=128 [--jobs 2]
    python benchmarks/cartpole_tune.py --from-logs LOG... # records from this script's printed lines

Tune on these seeds; report on others (cartpole_benchmark.py --first-seed).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "cartpole_tuning.json"
CHILD = r'''
import json, sys, torch
sys.path.insert(0, sys.argv[4]); sys.path.insert(0, sys.argv[5])
torch.set_num_threads(1)
import cartpole_benchmark as cb
from pathlib import Path
cb.GREEDY_EPISODES = 2  # the rule is on training episodes; the greedy score is not used here
name, seed, ovs = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
cb.SEQRL_OVERRIDES[name] = cb.SEQRL_OVERRIDES.get(name, []) + ovs
r = cb.run_seqrl(name, seed, Path(sys.argv[6]), False)
print(json.dumps({"seed": seed, "reached": r["reached"]["steps"] if r["reached"] else None, "played": r["env_steps"]}))
'''


def summary(runner: str, overrides: list[str], per_seed: dict[int, Optional[int]]) -> dict[str, Any]:
    values = [v if v is not None else float("inf") for v in per_seed.values()]
    reached = [v for v in per_seed.values() if v is not None]
    finite = lambda v: None if v == float("inf") else v  # noqa: E731 - not reached: null in the JSON
    return {"runner": runner, "overrides": overrides, "seeds": sorted(per_seed), "reached": len(reached),
            "runs": len(per_seed), "median": finite(statistics.median(values)), "max": finite(max(values)),
            "per_seed": per_seed}


def markdown(records: list[dict[str, Any]]) -> str:
    def fmt(v: Optional[float]) -> str:
        return "not reached" if v is None else f"{v:,.0f}"

    lines = ["CartPole tuning runs (benchmarks/cartpole_tune.py): env steps until the mean of the last 100 training "
             "episodes reached 475 (budget: cartpole_benchmark.py's), 1 torch thread per run. Configs were chosen "
             "from these; the benchmark reports other seeds.", "",
             "| runner | overrides over the config of the time | seeds | reached | median | max |", "|---|---|---|---|---|---|"]
    for r in records:
        seeds = r["seeds"]
        lines.append(f"| {r['runner']} | {' '.join(r['overrides']) or '(none)'} | {seeds[0]}-{seeds[-1]} | "
                     f"{r['reached']}/{r['runs']} | {fmt(r['median'])} | {fmt(r['max'])} |")
    return "\n".join(lines) + "\n"


def save(records: list[dict[str, Any]]) -> None:
    old = json.loads(OUT.read_text())["records"] if OUT.exists() else []
    allr = old + records
    OUT.write_text(json.dumps({"records": allr}, indent=1, default=str) + "\n")
    OUT.with_suffix(".md").write_text(markdown(allr))


def from_logs(paths: list[Path], notes: str) -> list[dict[str, Any]]:
    """Records from the lines this script prints: `SEED {json}` per seed, `SUMMARY runner [overrides] ...`."""
    records = []
    for path in paths:
        per_seed: dict[int, Optional[int]] = {}
        for line in path.read_text().splitlines():
            head, _, rest = line.partition(" ")
            if head.isdigit() and rest.startswith("{"):
                per_seed[int(head)] = json.loads(rest)["reached"]
            elif head == "SUMMARY":
                runner, rest = rest.split(" ", 1)
                overrides = json.loads(rest[:rest.index("]") + 1].replace("'", '"'))
                records.append({**summary(runner, overrides, per_seed), "machine": notes})
                per_seed = {}
    return records


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runner", nargs="?")
    p.add_argument("seeds", nargs="?", help="first-last")
    p.add_argument("overrides", nargs="*")
    p.add_argument("--from-logs", nargs="+", type=Path)
    p.add_argument("--work", default="runs/cartpole-tune")
    p.add_argument("--jobs", type=int, default=1, help="seeds run at once, one process each (they share the cores: "
                   "env steps are what is compared here, not wall time)")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from measure import cpu_model  # beside this script

    machine = f"{cpu_model()}, {time.strftime('%Y-%m-%d')}"
    if args.from_logs:
        save(from_logs(args.from_logs, machine))
        return 0
    try:
        lo, hi = map(int, args.seeds.split("-"))
    except (AttributeError, ValueError):
        p.error(f"seeds: {args.seeds!r} is not a range first-last, e.g. 0-14")
    per_seed: dict[int, Optional[int]] = {}

    def one(seed: int) -> None:
        out = subprocess.run([sys.executable, "-c", CHILD, args.runner, str(seed), json.dumps(args.overrides),
                              str(ROOT / "benchmarks"), str(ROOT / "src"), str((ROOT / args.work).resolve())],
                             capture_output=True, text=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if out.returncode != 0:
            raise SystemExit(f"seed {seed} failed:\n{out.stderr[-3000:]}")
        per_seed[seed] = json.loads(out.stdout.strip().splitlines()[-1])["reached"]
        print(seed, json.dumps({"reached": per_seed[seed]}), flush=True)

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        list(pool.map(one, range(lo, hi + 1)))
    per_seed = dict(sorted(per_seed.items()))
    rec = {**summary(args.runner, args.overrides, per_seed), "machine": machine}
    print("SUMMARY", args.runner, json.dumps(args.overrides), f"{rec['reached']}/{rec['runs']}", "median", rec["median"],
          "max", rec["max"], flush=True)
    save([rec])
    return 0


if __name__ == "__main__":
    sys.exit(main())
