"""Smoke test: `benchmarks/trl_comparison.py --quick` trains every run it can and writes its report.

seqrl's runs and the plain PyTorch loop always run; TRL's trainers only where TRL is installed
(`pip install -e '.[bench]'`), which the test suite does not require."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_trl_comparison(tmp_path: Path) -> None:
    runs = ["seqrl_rloo", "plain"] + (["trl_rloo"] if importlib.util.find_spec("trl") else [])
    out = tmp_path / "trl.json"
    proc = subprocess.run([sys.executable, "benchmarks/trl_comparison.py", "--quick", "--budget", "4",
                           "--runs", ",".join(runs), "--work", str(tmp_path / "work"), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    report = json.loads(out.read_text())
    assert 0.0 < report["warm_start"]["sampled_reward"] < 1.0
    check = report["warm_start"]["padding_check"]  # GPT-2 needs mask-derived positions under left padding
    assert check["mask_position_ids"] < 1e-5 < 1e-2 < check["without_position_ids"]
    rows = {r["run"]: r for r in report["rows"]}
    assert set(rows) == set(runs)
    for name, r in rows.items():
        assert r["steps"] >= 1 and r["completions_per_s"] > 0 and r["tokens_per_s"] > 0, name
        assert 0.0 <= r["greedy_exact_match"] <= 1.0 and r["peak_rss_mib"] > 0, name
        seconds = [p["seconds"] for p in report["curves"][name]]
        assert seconds == sorted(seconds) and all(0.0 <= p["reward"] <= 1.0 for p in report["curves"][name])
    profile = rows["seqrl_rloo"]["profile"]
    assert profile["step"] > 0 and sum(profile[k] for k in ("sample", "reward", "logprobs_forward", "backward",
                                                            "optimizer")) <= profile["step"] + 1e-6
    assert "seqrl_rloo_completions_per_s_over_trl_rloo" in report["ratios"] or "trl_rloo" not in rows
    table = out.with_suffix(".md").read_text()
    assert "| seqrl_rloo |" in table and "completions/s" in table
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    # --report-only rebuilds the same report from the runs' results, training nothing
    again = tmp_path / "again.json"
    proc = subprocess.run([sys.executable, "benchmarks/trl_comparison.py", "--report-only", "--quick", "--budget", "4",
                           "--runs", ",".join(runs), "--work", str(tmp_path / "work"), "--out", str(again)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(again.read_text())["rows"] == report["rows"]
    assert again.with_suffix(".md").read_text() == table


def _benchmark_module(name: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_position_fix_makes_a_left_padded_forward_match_the_unpadded_one() -> None:
    """The `_posfix` runs' fix: backbone calls without position ids get mask-derived ones."""
    import pytest

    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    bench = _benchmark_module("trl_comparison")
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=14, n_positions=32, n_embd=32, n_layer=2, n_head=2, pad_token_id=0)).eval()
    row = torch.tensor([[1, 5, 6, 7, 13, 7, 6, 5, 2]])
    padded, mask = torch.cat([torch.zeros(1, 3, dtype=torch.long), row], 1), torch.tensor([[0] * 3 + [1] * 9])
    with torch.no_grad():
        want = model(input_ids=row).logits[0]
        shifted = model(input_ids=padded, attention_mask=mask).logits[0, 3:]
        bench.with_mask_positions(model)
        fixed = model(input_ids=padded, attention_mask=mask).logits[0, 3:]
    assert (shifted - want).abs().max() > 1e-2  # the bug: positions shifted by the padding
    assert (fixed - want).abs().max() < 1e-4


def test_ratios_bound_the_time_of_a_run_that_never_reached_the_target() -> None:
    report = _benchmark_module("trl_report")
    rows = [{"run": "seqrl_grpo", "completions_per_s": 300.0, "to_target": {"seconds": 50.0}, "train_seconds": 200.0},
            {"run": "trl_grpo", "completions_per_s": 100.0, "to_target": None, "train_seconds": 200.0},
            {"run": "trl_grpo_posfix", "completions_per_s": 100.0, "to_target": {"seconds": 100.0},
             "train_seconds": 200.0}]
    out = report.ratios(rows)
    assert out["seqrl_grpo_completions_per_s_over_trl_grpo"] == 3.0
    assert out["seqrl_grpo_time_to_target_over_trl_grpo_at_most"] == 0.25  # 50 s / its whole 200 s run
    assert out["seqrl_grpo_time_to_target_over_trl_grpo_posfix"] == 0.5
    assert "seqrl_grpo_time_to_target_over_trl_grpo" not in out


def test_a_gpu_report_names_the_gpu_and_shows_peak_gpu_memory() -> None:
    report = _benchmark_module("trl_report")
    rows = [{"run": name, "steps": 10, "completions_per_s": cps, "tokens_per_s": 5 * cps, "final_reward_10": 0.5,
             "to_target": None, "greedy_exact_match": 0.0, "peak_rss_mib": 900.0, "peak_gpu_mib": gpu}
            for name, cps, gpu in (("seqrl_rloo", 400.0, 2048.0), ("trl_rloo", 100.0, 6144.0))]
    env = {"torch": "2.13.0", "transformers": "5", "trl": "1", "date": "2026-12-03", "cpu_model": "x", "cores": 16,
           "gpu": "NVIDIA H200"}
    text = report.markdown({"rows": rows, "environment": env, "budget_s": 120, "warm_start": {"sampled_reward": 0.1},
                            "ratios": report.ratios(rows), "settings": {"skip_profile": 3},
                            "model": {"size": "small"}, "device": "cuda", "precision": "bf16"})
    assert "GPT-2-small-sized" in text and "NVIDIA H200 (cuda, bf16)" in text
    assert "| peak GPU memory |" in text and "| 2,048 MiB |" in text and "| 6,144 MiB |" in text
    assert "seqrl_rloo_completions_per_s_over_trl_rloo = 4.00" in text


def test_the_gpu_benchmark_refuses_a_machine_without_cuda_in_one_line() -> None:
    import pytest

    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the refusal cannot be shown here")
    proc = subprocess.run([sys.executable, "benchmarks/trl_comparison.py", "--device", "cuda", "--runs", "seqrl_rloo"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "--device cuda: this torch" in proc.stderr and "sees no CUDA GPU" in proc.stderr
