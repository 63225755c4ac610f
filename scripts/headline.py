"""The README's headline table, written from the benchmarks' results files (never by hand).

    python scripts/headline.py           # rewrite the table in README.md from benchmarks/results/
    python scripts/headline.py --check   # exit 1, naming the row, if README.md's table is stale

Each row is a function of one results file: the figures, the machine and the date all come from
it. The table sits between the two HEADLINE markers in README.md; the docs' front page is
generated from README.md by scripts/gen_docs.py, so it cannot drift either. CI runs --check.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
BEGIN = "<!-- HEADLINE: written by scripts/headline.py from benchmarks/results/; do not edit by hand -->"
END = "<!-- /HEADLINE -->"


def load(name: str) -> dict[str, Any]:
    return json.loads((RESULTS / name).read_text())


def where(env: dict[str, Any]) -> str:
    """'CPU model[, ISA], cores, date' from a results file's machine record."""
    cpu = env.get("cpu_model") or env.get("machine") or "machine not recorded"
    isa = f" ({'/'.join(env['isa'])})" if env.get("isa") else ""
    cores = env.get("cores") or env.get("cpu_count")
    cores_text = f", {cores} cores" if cores and "cores" not in str(cpu) else ""
    date = str(env["date"])[:10] if env.get("date") else "date not recorded"
    return f"{cpu}{isa}{cores_text}, {date}"


def k(steps: float) -> str:
    return f"{steps / 1000:.0f}k"


def demo() -> tuple[str, str, str]:
    d = load("demo.json")
    t = d["time_to_target"]
    text = (f"{t['target_exact_match']:.2f} greedy exact match in {t['wall_s']:.0f} s (step {t['step']}), "
            f"{t['final_exact_match']:.3f} at the end (seed 0)")
    sp = d.get("seed_spread")
    if sp and sp["wall_s"]["median"] is not None:
        text += (f"; seeds {sp['seeds'][0]}-{sp['seeds'][-1]}: {sp['reached']}/{len(sp['seeds'])} in a median "
                 f"{sp['wall_s']['median']:.0f} s [{sp['wall_s']['min']:.0f}, {sp['wall_s']['max']:.0f}], final "
                 f"{sp['final_exact_match']['min']:.3f} to {sp['final_exact_match']['max']:.3f}")
    elif sp:
        text += f"; seeds {sp['seeds'][0]}-{sp['seeds'][-1]}: {sp['reached']}/{len(sp['seeds'])} reached 0.95"
    else:
        text += "; one seed"
    return "Default demo (reverse digits, GRU)", text, where(d["environment"])


def trl(name: str, what: str, fmt: str) -> Callable[[], tuple[str, str, str]]:
    """A row comparing seqrl's RLOO with TRL's on one results file of trl_comparison.py."""
    def row() -> tuple[str, str, str]:
        d = load(name)
        rows = {r["run"]: r for r in d["rows"]}
        s, t = rows["seqrl_rloo"]["completions_per_s"], rows["trl_rloo"]["completions_per_s"]
        extra = ", same per-step curve" if name == "trl.json" else ""
        return what, f"{s / t:.1f}x TRL's completions/s ({s:{fmt}} vs {t:{fmt}}){extra}", where(d["environment"])
    return row


def trl_gpu() -> tuple[str, str, str]:
    d = load("trl_gpu.json")
    parts = [f"{r['seqrl_rloo_completions_per_s'] / r['trl_rloo_completions_per_s']:.2f}x TRL in {r['precision']}"
             for r in d["rows"]]
    return ("Against TRL RLOO, GPT-2-small-sized model, one H200 GPU",
            f"{', '.join(parts)}: slower on a GPU ({d['note']}; raw output not kept)",
            f"{d['machine']['gpu']}, {d['machine']['date']}")


def multi30k() -> tuple[str, str, str]:
    d = load("multi30k.json")
    base = d["rows"][0]["eval"]["test_greedy"]["bleu"]
    gain = {r["name"]: r["eval"]["test_greedy"]["bleu"] - base for r in d["rows"][1:]}
    rl = [v for n, v in gain.items() if "control" not in n]
    control = next(v for n, v in gain.items() if "control" in n)
    return ("Multi30k De->En, REINFORCE on BLEU (SCST, RLOO, MIXER)",
            f"{min(rl):+.1f} to {max(rl):+.1f} test greedy BLEU over the cross-entropy start (control: "
            f"{control:+.2f}); one seed", where(d["environment"]))


def multi30k_reinforce_converged() -> tuple[str, str, str]:
    d = load("multi30k_reinforce_converged.json")
    rows = {e["name"]: e for e in d["summary"]}
    start = d["start"]["eval"]
    parts = [f"{name.removeprefix('+ ')} {_gains(e)}" for name, e in rows.items()]
    seeds = {len(e["seeds"]) for e in rows.values()}
    methods = [n.removeprefix("+ ") for n in rows if "control" not in n]
    return (f"Multi30k De->En, {', '.join(methods[:-1]) + ' and ' if len(methods) > 1 else ''}{methods[-1]} from the "
            "converged cross-entropy start "
            f"(test {start['test_greedy']['bleu']:.2f} greedy, {start['test_beam']['bleu']:.2f} beam)",
            "; ".join(parts) + f" test BLEU over the start, median [range] of {'/'.join(map(str, sorted(seeds)))} seeds",
            where(d["environment"]))


def _gains(e: dict[str, Any]) -> str:
    """A summary row's test gains over its start: "greedy +x [min, max], beam-5 +y [min, max]"."""
    g, b = e["test_greedy"], e["test_beam"]
    return (f"greedy {g['gain_median']:+.2f} [{g['gain_min']:+.2f}, {g['gain_max']:+.2f}], beam-5 "
            f"{b['gain_median']:+.2f} [{b['gain_min']:+.2f}, {b['gain_max']:+.2f}]")


def _risk_text(d: dict[str, Any], matched: str) -> str:
    """The risk row's gains over its start, median [range] over seeds, and its controls' medians."""
    rows = {e["name"]: e for e in d["summary"]}
    r, c = rows["+ risk"], rows.get("+ cross-entropy (control)")
    text = f"test {_gains(r)} BLEU over the start, median [range] of {len(r['seeds'])} seeds"
    if c:
        text += (f" (control: {c['test_greedy']['gain_median']:+.2f} greedy, {c['test_beam']['gain_median']:+.2f} "
                 "beam")
        if (RESULTS / matched).exists():  # the control at the risk row's rate
            m = {e["name"]: e for e in load(matched)["summary"]}["+ cross-entropy (control)"]
            text += (f"; at the risk row's learning rate: {m['test_greedy']['gain_median']:+.2f} greedy, "
                     f"{m['test_beam']['gain_median']:+.2f} beam")
        text += ")"
    return text


def multi30k_risk() -> tuple[str, str, str]:
    d = load("multi30k_risk.json")
    return ("Multi30k De->En, minimum risk training (samples + beam) with cross-entropy on the references",
            _risk_text(d, "multi30k_risk_matched_control.json"), where(d["environment"]))


def multi30k_risk_converged() -> tuple[str, str, str]:
    d = load("multi30k_risk_converged.json")
    start = d["start"]["eval"]
    return ("Multi30k De->En, the same risk training from a converged cross-entropy start "
            f"(test {start['test_greedy']['bleu']:.2f} greedy, {start['test_beam']['bleu']:.2f} beam)",
            _risk_text(d, "multi30k_risk_converged_matched.json"), where(d["environment"]))


def cartpole(name: str = "cartpole.json",
             title: str = "CartPole-v1 to a mean training return of 475") -> tuple[str, str, str]:
    d = load(name)
    s = {r["runner"]: r for r in d["summary"]}

    def one(name: str, label: str) -> str:
        r = s[name]
        steps = r["steps"]
        if steps["median"] is None:  # not every seed reached 475 within its budget: no median
            those = f" (those at {k(steps['min'])} to {k(steps['max'])} env steps)" if r["reached"] else ""
            return f"{label} {r['reached']}/{r['runs']} within its budget{those}"
        return (f"{label} {r['reached']}/{r['runs']} at a median {k(steps['median'])} env steps "
                f"[{k(steps['min'])}, {k(steps['max'])}], {r['seconds']['median']:.0f} s")

    parts = [one(n, lbl) for n, lbl in (("seqrl_reinforce", "REINFORCE"), ("seqrl_a2c", "A2C"), ("seqrl_dqn", "DQN"))
             if n in s]
    peers = [one(n, lbl) for n, lbl in (("sb3_ppo", "SB3 PPO"), ("sb3_a2c", "SB3 A2C")) if n in s]
    seeds = d["seeds"] if isinstance(d["seeds"], int) else len(d["seeds"])
    listed = [x for x in d.get("seed_list") or [] if x is not None]
    title = title.format(seeds=f"{min(listed)}-{max(listed)}" if listed else "?")
    return (title, f"{'; '.join(parts)} ({'; '.join(peers)}); {seeds} seeds",
            where({"cpu_model": d["machine"], "date": d["date"], "isa": d.get("isa")}))


def pong(name: str = "pong.json", title: str = "Pong from pixels, REINFORCE") -> tuple[str, str, str]:
    d = load(name)
    reached = d.get("reached")
    when = (f", {d['target']:+g} at {reached['seconds'] / 60:.0f} min" if reached and "target" in d else
            f", {d['target']:+g} not reached" if "target" in d else "")
    return (title,
            f"running mean -21 -> {d['final']['running_return']:+.1f} in {d['budget_minutes']:.0f} min{when}; greedy "
            f"validation {d['greedy_validation']['return_mean']:+.1f} over {d['greedy_validation']['episodes']} games "
            f"({sticky(d)}); seed {d['settings']['run']['seed']} (configs/pong.yaml was set on it)",
            where({"cpu_model": d["machine"], "date": d["date"], "isa": d.get("isa")}))


def pong_seeds() -> tuple[str, str, str]:
    d = load("pong_seeds.json")
    s, n, seeds = d["summary"], len(d["runs"]), d["seeds"]

    def spread(x: dict[str, float], f: str) -> str:
        return f"{x['median']:{f}} [{x['min']:{f}}, {x['max']:{f}}]"

    when = f" (after {spread(s['minutes_to_target'], '.0f')} min)" if s["minutes_to_target"] else ""
    return (f"Pong from pixels, REINFORCE, over seeds ({', '.join(map(str, seeds))}; none tuned on)",
            f"running mean {d['target']:+g} within {d['budget_minutes']:.0f} min on {s['reached']}/{n} seeds{when}; "
            f"final running mean {spread(s['final_running_return'], '+.1f')}; greedy validation "
            f"{spread(s['greedy_return'], '+.1f')} over {d['runs'][0]['greedy_validation']['episodes']} games each "
            f"({sticky(d)}); median [range] of {n} seeds",
            where({"cpu_model": d["machine"], "date": d["date"], "isa": d.get("isa")}))


def sticky(d: dict[str, Any]) -> str:
    """How Pong's training and validation games were played."""
    env = d["settings"]["env"]
    train = env.get("kwargs", {}).get("repeat_action_probability")
    p = {**env.get("kwargs", {}), **env.get("eval_kwargs", {})}.get("repeat_action_probability")
    if p == 0:
        return "no sticky actions: one deterministic game, replayed"
    played = f"sticky actions {p}" if p is not None else "ALE's default sticky actions"
    return played + (", trained without them" if train == 0 else ", as in training" if train == p else "")


def graph_peers() -> tuple[str, str, str]:
    d = load("graph_peers.json")
    rows = d["rows"]
    ours = rows[0]
    storch = next(r for r in rows if r["estimator"].startswith("storchastic"))
    pyro = max((r for r in rows if r["estimator"].startswith("Pyro")), key=lambda r: r["steps_per_s"])
    elbos = [r["test_elbo_early_stopped"] for r in (ours, storch, pyro)]
    text = (f"{ours['steps_per_s'] / storch['steps_per_s']:.1f}x storchastic's and "
            f"{ours['steps_per_s'] / pyro['steps_per_s']:.1f}x Pyro's steps/s; held-out ELBO "
            f"{elbos[0]:.2f} vs {elbos[1]:.2f} and {elbos[2]:.2f} (early-stopped)")
    more = d.get("more_seeds") or []
    if more:  # every seed's early-stopped ELBO of each estimator: median [min, max]
        def spread(r: dict[str, Any]) -> str:
            xs = [x["test_elbo_early_stopped"] for x in [r] + [m for m in more if m["estimator"] == r["estimator"]]]
            return f"{statistics.median(xs):.2f} [{min(xs):.2f}, {max(xs):.2f}]"
        seeds = 1 + len({m["seed"] for m in more})
        text += (f"; over {seeds} seeds, median [range]: {spread(ours)} vs {spread(storch)} and {spread(pyro)}")
    else:
        text += "; one seed"
    return "Stochastic graphs (discrete VAE on digits)", text, where(d.get("environment", {}))


ROWS: list[tuple[Callable[[], tuple[str, str, str]], str, str]] = [
    (demo, "demo.json", "`benchmarks/demo_benchmark.py`"),
    (trl("trl.json", "Against TRL RLOO, same tiny GPT-2 and task, CPU", ",.0f"), "trl.json",
     "`benchmarks/trl_comparison.py`"),
    (trl("trl_small.json", "Against TRL RLOO, GPT-2-small-sized model, CPU", ".0f"), "trl_small.json",
     "`benchmarks/results/trl_small.md`"),
    (trl_gpu, "trl_gpu.json", "`benchmarks/results/trl_gpu.json`"),
    (multi30k, "multi30k.json", "`benchmarks/multi30k_benchmark.py`"),
    (multi30k_risk, "multi30k_risk.json", "`benchmarks/multi30k_risk.py`"),
    (multi30k_risk_converged, "multi30k_risk_converged.json", "`benchmarks/multi30k_risk.py --start-set optim.steps=6000`"),
    (multi30k_reinforce_converged, "multi30k_reinforce_converged.json",
     "`benchmarks/multi30k_risk.py --rows scst,rloo,mixer,control --start-set optim.steps=6000`"),
    (cartpole, "cartpole.json", "`benchmarks/cartpole_benchmark.py`"),
    (lambda: cartpole("cartpole_pooled.json", "CartPole-v1, the same rule, every report seed pooled ({seeds}, none tuned on)"),
     "cartpole_pooled.json", "`benchmarks/cartpole_benchmark.py --pool`"),
    (pong, "pong.json", "`benchmarks/pong_benchmark.py`"),
    (pong_seeds, "pong_seeds.json", "`benchmarks/pong_benchmark.py --pool`"),
    (lambda: pong("pong_sticky.json", "Pong from pixels, REINFORCE, trained with sticky actions 0.25"),
     "pong_sticky.json", "`benchmarks/pong_benchmark.py env.kwargs.repeat_action_probability=0.25`"),
    (graph_peers, "graph_peers.json", "`benchmarks/graph_peers.py`"),
]


def table() -> str:
    lines = [BEGIN, "| what | result | machine, date | where |", "|---|---|---|---|"]
    for row, name, script in ROWS:
        if not (RESULTS / name).exists():
            continue  # a benchmark not run yet has no row
        what, result, machine = row()
        lines.append(f"| {what} | {result} | {machine} | {script} |")
    return "\n".join([*lines, END])


def rewrite(text: str, new_table: str, path: Path = README) -> str:
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        raise SystemExit(f"{path}: the HEADLINE markers are missing")
    return text[:start] + new_table + text[stop + len(END):]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="fail if README.md's table differs from the results")
    p.add_argument("--readme", type=Path, default=README, help="the file holding the table (default: README.md)")
    args = p.parse_args()
    text = args.readme.read_text()
    new = rewrite(text, table(), args.readme)
    if not args.check:
        args.readme.write_text(new)
        return 0
    if new == text:
        return 0
    old_rows = set(text[text.find(BEGIN):text.find(END)].splitlines())
    stale = [line for line in table().splitlines() if line not in old_rows]
    print(f"{args.readme.name}'s headline table does not match benchmarks/results/ (run python scripts/headline.py):",
          *stale, sep="\n  ", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
