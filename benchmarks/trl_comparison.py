"""seqrl against TRL's RLOOTrainer and GRPOTrainer on identical work, on this machine's CPU or a GPU.

    python benchmarks/trl_comparison.py [--budget 300] [--quick] [--out benchmarks/results/trl.json]
    python benchmarks/trl_comparison.py --model small --device cuda --runs seqrl_rloo,trl_rloo \
        --out benchmarks/results/gpu.json          # what benchmarks/gpu_check.sh runs

The work (issue 4): a GPT-2 config with 2 layers, 4 heads, width 128 and a 14-token vocabulary
(PAD, BOS, EOS, digits 0-9, '=') reverses digit strings: prompt `<s> d1 .. dL =` (L = 3..6),
target the digits reversed, then EOS; reward = correct positions / max(L, completion length).
Every run starts from the same warm-start model directory (a few dozen cross-entropy steps by
seqrl, exported in Hugging Face format) and uses 32 prompts x 8 samples per step, learning rate
1e-4 (Adam), gradient norm clipped to 1 (TRL's default), at most 8 new tokens, temperature 1,
no KL term (TRL: beta=0), no dropout.

Runs, each in its own process (for its peak memory) and for at most --budget seconds of
training: `trl_rloo`, `trl_grpo`, `seqrl_rloo` (the same update as TRL's RLOO: leave-one-out
advantages on the sequence reward, loss summed over tokens and averaged over sequences),
`trl_rloo_posfix` and `trl_grpo_posfix` (the same TRL trainers with one fix: their log-prob
forward gets position ids from the attention mask, see `padding_check`), `seqrl_grpo`
(group-normalised advantages, loss averaged over completion tokens: TRL GRPO's
`loss_type="dapo"`), and `plain` (a minimal PyTorch loop around `model.generate`, the same RLOO
update).
Each logs the mean training reward of every step against wall time; reported: completions/s,
generated tokens/s, wall time until the 10-step mean reward first reaches 0.8, held-out greedy
exact match after the budget (the same seqrl greedy decoder on every final model), peak RSS and,
on CUDA, peak GPU memory (`torch.cuda.max_memory_allocated`, each run in its own process).

`--device cuda` puts both peers on the GPU (seqrl `run.device=cuda`, TRL `use_cpu=False`);
`--precision bf16` asks both for bf16 autocast (seqrl `run.precision=bf16`, TRL `bf16=True`).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PROMPTS_PER_STEP, SAMPLES, LR, MAX_NEW, TARGET = 32, 8, 1e-4, 8, 0.8
RUNS = ("trl_rloo", "trl_grpo", "trl_rloo_posfix", "trl_grpo_posfix", "seqrl_rloo", "seqrl_grpo", "plain")
WARM_STEPS, WARM_LR = 40, 1e-3
SKIP_PROFILE = 3  # first steps left out of the phase profile (allocator and caches warming up)


def after_warmup(items: list) -> list:
    """The steps a phase profile averages over: all but the first SKIP_PROFILE, if there are more."""
    return items[SKIP_PROFILE:] if len(items) > SKIP_PROFILE else items


# -- the task ---------------------------------------------------------------------------------
def digits_of(prompt: str) -> list[str]:
    return [t for t in prompt.split() if t.isdigit()]


def score(prompt: str, completion: str) -> float:
    target = digits_of(prompt)[::-1]
    got = completion.split()
    right = sum(a == b for a, b in zip(got, target))
    return right / max(len(target), len(got))


def reversal_reward(completions, references=None, sources=None, prompts=None, **_: Any) -> list[float]:
    """Works as a seqrl text reward (completions, references, sources) and a TRL reward
    (prompts=..., completions=...)."""
    prompts = prompts if prompts is not None else sources
    return [score(p, c) for p, c in zip(prompts, completions)]


def make_data(work: Path, n_train: int = 20000, n_valid: int = 512, seed: int = 0) -> None:
    rng = random.Random(seed)

    def draw() -> tuple[str, ...]:
        return tuple(str(rng.randrange(10)) for _ in range(rng.randint(3, 6)))

    valid: set[tuple[str, ...]] = set()
    while len(valid) < n_valid:
        valid.add(draw())
    train = []
    while len(train) < n_train:
        d = draw()
        if d not in valid:
            train.append(d)
    for name, rows in (("train", train), ("valid", sorted(valid))):
        with open(work / f"{name}.jsonl", "w") as f:
            for d in rows:
                f.write(json.dumps({"source": "<s> " + " ".join(d) + " =", "references": " ".join(reversed(d))}) + "\n")


def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, **{str(i): 3 + i for i in range(10)}, "=": 13}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


def device() -> str:
    """The device every run uses: --device, passed to the children through SEQRL_TRL_DEVICE."""
    return os.environ.get("SEQRL_TRL_DEVICE", "cpu")


def precision() -> str:
    return os.environ.get("SEQRL_TRL_PRECISION", "fp32")


SIZES = {"tiny": dict(n_embd=128, n_layer=2, n_head=4),  # the task's model
         "small": dict(n_embd=768, n_layer=12, n_head=12)}  # GPT-2-small-sized: compute, not Python overhead


def make_base_model(path: Path) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    size = SIZES[os.environ.get("SEQRL_TRL_MODEL", "tiny")]
    cfg = GPT2Config(vocab_size=14, n_positions=32, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **size)
    GPT2LMHeadModel(cfg).save_pretrained(str(path))
    tokenizer().save_pretrained(str(path))


def seqrl_overrides(work: Path, model: Path) -> list[str]:
    return ["task.name=text", "task.reward=benchmarks.trl_comparison:reversal_reward", "data.format=jsonl",
            f"data.train={work / 'train.jsonl'}", f"data.valid={work / 'valid.jsonl'}", "data.max_tokens=16",
            "model.kind=hf", f"model.hf_path={model}", "data.metrics=bleu", "run.progress=false",
            "run.threads=2", f"optim.batch_size={PROMPTS_PER_STEP}", f"reinforce.samples_per_input={SAMPLES}",
            f"reinforce.max_len={MAX_NEW}", "optim.grad_clip=1.0", "run.log_every=1", f"run.device={device()}",
            f"run.precision={precision()}"]


# -- runs (each in its own process) -------------------------------------------------------------
def run_warm(work: Path) -> dict[str, Any]:
    """A few dozen cross-entropy steps from the random base model, exported as the warm start."""
    import torch

    from seqrl.config import load_config
    from seqrl.sequences.build_hf import export_hf
    from seqrl.sources import make_trainer

    make_base_model(work / "base")
    cfg = load_config(None, seqrl_overrides(work, work / "base") + [
        "curriculum.kind=xent", f"optim.steps={WARM_STEPS}", f"optim.lr={WARM_LR}", "run.eval_every=100000"])
    shutil.rmtree(work / "warm-run", ignore_errors=True)  # a fresh run every time
    trainer = make_trainer(cfg, work / "warm-run")
    trainer.fit()
    export_hf(trainer.source.policy, trainer.source.task.tokenizer, work / "warm")
    # sampled reward of the warm start on held-out prompts
    from seqrl.tasks import collate

    examples = list(trainer.source.data.validation)
    batch = collate(examples, trainer.source.task.specials).to(trainer.device)
    trainer.source.policy.eval()
    rollout = trainer.source.policy.sample(batch, SAMPLES, MAX_NEW, 1.0, torch.Generator().manual_seed(0))
    from seqrl.rollout import strip

    outs = trainer.source.task.detokenize(strip(rollout.tokens, rollout.mask, rollout.eos))
    srcs = [trainer.source.task.render_source(e.source) for e in examples for _ in range(SAMPLES)]
    rewards = reversal_reward(outs, sources=srcs)
    return {"sampled_reward": sum(rewards) / len(rewards), "steps": WARM_STEPS}


def greedy_exact_match(model: Any, work: Path) -> float:
    """Held-out greedy exact match with seqrl's decoder (the same for every run's final model)."""
    import torch

    from seqrl.policies.base import AutoregressivePolicy
    from seqrl.policies.hf import wrap_hf
    from seqrl.rollout import pad_sequences, strip, Batch

    tok = tokenizer()
    rows = [json.loads(line) for line in open(work / "valid.jsonl")]
    ids = [tok(r["source"], add_special_tokens=False)["input_ids"] for r in rows]
    src, mask = pad_sequences(ids, pad=0)
    policy = AutoregressivePolicy(wrap_hf(model)).eval()
    at = next(model.parameters()).device
    with torch.no_grad():
        rollout = policy.greedy(Batch(src, mask).to(at), MAX_NEW)
    outs = [tok.decode(o, skip_special_tokens=True) for o in strip(rollout.tokens, rollout.mask, rollout.eos)]
    return sum(o.split() == r["references"].split() for o, r in zip(outs, rows)) / len(rows)


def padding_check(work: Path) -> dict[str, float]:
    """Why TRL's per-step curve differs: TRL scores left-padded [prompt, completion] rows without
    position_ids, so GPT-2 gives the short row's tokens shifted positions. Max |difference| of the
    completion log-probabilities of a 3-digit prompt padded to a 6-digit one's length, against the
    unpadded row, without and with mask-derived position ids."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(work / "warm")).eval()
    tok = tokenizer()
    tok.padding_side = "left"
    rows = ["<s> 1 2 3 = 3 2 1 </s>", "<s> 1 2 3 4 5 6 = 6 5 4 3 2 1 </s>"]
    enc = tok(rows, return_tensors="pt", padding=True, add_special_tokens=False)
    ids, att = enc["input_ids"], enc["attention_mask"]
    n_completion = 4  # "3 2 1 </s>"
    with torch.no_grad():
        alone = torch.log_softmax(model(input_ids=ids[:1, att[0].bool()]).logits, -1)[0, :-1]
        want = alone.gather(1, ids[0, att[0].bool()][1:, None]).squeeze(1)[-n_completion:]
        out = {}
        for name, pos in (("without_position_ids", None), ("mask_position_ids", (att.cumsum(1) - 1).clamp(min=0))):
            logp = torch.log_softmax(model(input_ids=ids, attention_mask=att, position_ids=pos).logits, -1)[0, :-1]
            got = logp.gather(1, ids[0, 1:, None]).squeeze(1)[-n_completion:]
            out[name] = float((got - want).abs().max())
    return out


def run_seqrl(work: Path, baseline: str, budget: float) -> dict[str, Any]:
    from seqrl.config import load_config
    from seqrl.run import jsonl
    from seqrl.sources import make_trainer

    run_dir = work / f"seqrl-{baseline}"
    cfg = load_config(None, seqrl_overrides(work, work / "warm") + [
        "curriculum.kind=reinforce", f"reinforce.baseline={baseline}", f"optim.rl_lr={LR}", f"optim.lr={LR}",
        "optim.steps=1000000", f"run.time_limit={budget}", "run.eval_every=1000000",
        "run.checkpoint_every=1000000",
        # TRL's GRPO loss (loss_type="dapo") averages over all completion tokens; its RLOO loss
        # sums each sequence's tokens and averages over sequences (seqrl's default)
        f"reinforce.normalization={'token' if baseline == 'grpo' else 'sequence'}"])
    shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run every time
    trainer = make_trainer(cfg, run_dir)
    trainer.fit()
    rows = list(jsonl.read(run_dir / "metrics.jsonl"))
    # seconds: the run's training wall time so far (batches, steps and logging; seqrl.train.trainer)
    curve = [{"step": r["step"], "seconds": r["seconds"], "reward": r["reward_mean"], "tokens": r["tokens"]}
             for r in rows]
    timed = after_warmup(rows)
    phases = {"sample": "time_sample", "reward": "time_reward", "logprobs_forward": "time_score",
              "backward": "time_backward", "optimizer": "time_optim"}
    profile = {name: sum(r.get(key, 0.0) for r in timed) / len(timed) for name, key in phases.items()}
    profile["step"] = sum(r["step_time"] for r in timed) / len(timed)
    return {"curve": curve, "completions": sum(r["sequences"] for r in rows),
            "tokens": sum(r["tokens"] for r in rows), "train_seconds": rows[-1]["seconds"], "profile": profile,
            "greedy_exact_match": greedy_exact_match(trainer.source.policy.network.model, work)}


def with_mask_positions(model: Any) -> None:
    """TRL with its position bug fixed (the `_posfix` runs): every call of the model's backbone
    that passes an attention mask but no position ids gets them from the mask (`cumsum - 1`; the
    last columns when a key/value cache holds the rest), as `generate` already does for its own
    calls. The backbone, not the head model: TRL's fused LM head calls the backbone directly."""
    import functools

    backbone = model.base_model
    forward = backbone.forward

    @functools.wraps(forward)
    def positioned(*args: Any, **kwargs: Any) -> Any:
        # input_ids by keyword (TRL's fused LM head) or as the one positional argument (the head model)
        mask, ids = kwargs.get("attention_mask"), kwargs.get("input_ids", args[0] if len(args) == 1 else None)
        if kwargs.get("position_ids") is None and mask is not None and ids is not None:
            kwargs["position_ids"] = ((mask.long().cumsum(-1) - 1).clamp(min=0))[:, -ids.shape[1]:]
        return forward(*args, **kwargs)

    backbone.forward = positioned


def run_trl(work: Path, kind: str, budget: float) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, TrainerCallback

    torch.set_num_threads(2)
    rows = [json.loads(line) for line in open(work / "train.jsonl")]
    dataset = Dataset.from_dict({"prompt": [r["source"] for r in rows]})
    model = AutoModelForCausalLM.from_pretrained(str(work / "warm"))
    kind, _, variant = kind.partition("_")
    if variant == "posfix":
        with_mask_positions(model)
    tok = tokenizer()
    common = dict(output_dir=str(work / f"trl-{kind}"), per_device_train_batch_size=PROMPTS_PER_STEP * SAMPLES,
                  **trl_settings())
    from measure import Timers  # beside this script

    curve: list[dict[str, Any]] = []
    started = [0.0]
    timers, step_began, per_step = Timers(sync_cuda=os.environ.get("SEQRL_TRL_DEVICE", "cpu") != "cpu"), [0.0], []

    class Log(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):  # noqa: ANN001
            started[0] = time.perf_counter()

        def on_step_begin(self, args, state, control, **kw):  # noqa: ANN001
            step_began[0] = time.perf_counter()
            if state.global_step == SKIP_PROFILE:
                timers.acc.clear()

        def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001
            if logs and "reward" in logs:
                curve.append({"step": state.global_step, "seconds": time.perf_counter() - started[0],
                              "reward": logs["reward"], "tokens": logs.get("completions/mean_length", 0) * PROMPTS_PER_STEP * SAMPLES})

        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001
            per_step.append(time.perf_counter() - step_began[0])
            if time.perf_counter() - started[0] >= budget:
                control.should_training_stop = True

    if kind == "rloo":
        from trl import RLOOConfig as Config, RLOOTrainer as Trainer
    else:
        from trl import GRPOConfig as Config, GRPOTrainer as Trainer
        common.update(loss_type="dapo", scale_rewards="group")
    trainer = Trainer(model=model, reward_funcs=reversal_reward, args=Config(**common), train_dataset=dataset,
                      processing_class=tok, callbacks=[Log()])
    # The phases of a TRL step: generation, reward, log-prob forwards (old log-probs with no grad
    # and the loss's forward), backward, optimizer (AdamW, with clipping inside the HF Trainer).
    timers.patch(trainer, "_generate", "sample", instance=True)
    timers.patch(trainer, "_calculate_rewards", "reward", instance=True)
    timers.patch(trainer, "_get_per_token_logps_and_entropies", "logprobs_forward", instance=True)
    timers.patch(torch.Tensor, "backward", "backward", instance=False)
    timers.patch(torch.optim.AdamW, "step", "optimizer", instance=False)
    trainer.train()
    seconds = time.perf_counter() - started[0]
    timed = after_warmup(per_step)  # the steps timers.acc covers (cleared as step SKIP_PROFILE began)
    profile = {k: v / len(timed) for k, v in timers.acc.items()}
    profile["step"] = sum(timed) / len(timed)
    return {"curve": curve, "completions": len(curve) * PROMPTS_PER_STEP * SAMPLES,
            "tokens": sum(p["tokens"] for p in curve), "train_seconds": seconds, "profile": profile,
            "greedy_exact_match": greedy_exact_match(trainer.model, work)}


# Every TRL setting the runs use, written into the results. TRL's defaults that slow a tiny model
# needlessly are off, as its documentation recommends when memory is not the constraint:
# gradient checkpointing (recomputes activations in the backward) and the progress bar.
TRL_SETTINGS: dict[str, Any] = dict(
    learning_rate=LR, num_generations=SAMPLES, max_completion_length=MAX_NEW, temperature=1.0, beta=0.0,
    max_steps=1000000, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, bf16=False,
    max_grad_norm=1.0, seed=0, lr_scheduler_type="constant", warmup_steps=0, disable_dropout=True,
    dataloader_num_workers=0, gradient_checkpointing=False, disable_tqdm=True)


def trl_settings() -> dict[str, Any]:
    """TRL_SETTINGS on this run's device and precision."""
    return {**TRL_SETTINGS, "use_cpu": device() == "cpu", "bf16": precision() == "bf16"}


def run_plain(work: Path, budget: float) -> dict[str, Any]:
    """A minimal PyTorch loop: model.generate samples, one forward scores, RLOO update."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(2)
    torch.manual_seed(0)
    tok = tokenizer()
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(str(work / "warm"))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    prompts = [json.loads(line)["source"] for line in open(work / "train.jsonl")]
    curve, done, tokens, started, step = [], 0, 0, time.perf_counter(), 0
    while time.perf_counter() - started < budget:
        batch = prompts[(step * PROMPTS_PER_STEP) % len(prompts):][:PROMPTS_PER_STEP]
        enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=False)
        model.eval()
        with torch.no_grad():
            out = model.generate(**enc, do_sample=True, temperature=1.0, max_new_tokens=MAX_NEW,
                                 num_return_sequences=SAMPLES, pad_token_id=0, eos_token_id=2, top_k=0)
        comp = out[:, enc["input_ids"].shape[1]:]
        is_eos = comp == 2
        first = torch.where(is_eos.any(1), is_eos.float().argmax(1), torch.full((comp.shape[0],), comp.shape[1]))
        cmask = torch.arange(comp.shape[1]).unsqueeze(0) <= first.unsqueeze(1)
        texts = tok.batch_decode(comp.masked_fill(~cmask, 0), skip_special_tokens=True)
        r = torch.tensor(reversal_reward(texts, prompts=[p for p in batch for _ in range(SAMPLES)]))
        g = r.view(-1, SAMPLES)
        adv = (g - (g.sum(1, keepdim=True) - g) / (SAMPLES - 1)).view(-1)
        model.train()
        attn = torch.cat([enc["attention_mask"].repeat_interleave(SAMPLES, 0), cmask.long()], dim=1)
        pos = (attn.cumsum(1) - 1).clamp(min=0)
        logits = model(input_ids=out, attention_mask=attn, position_ids=pos).logits[:, enc["input_ids"].shape[1] - 1:-1]
        logp = torch.log_softmax(logits, -1).gather(2, comp.unsqueeze(2)).squeeze(2)
        loss = -((logp * cmask).sum(1) * adv).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        done += comp.shape[0]
        tokens += int(cmask.sum())
        curve.append({"step": step, "seconds": time.perf_counter() - started, "reward": float(r.mean()),
                      "tokens": int(cmask.sum())})
    return {"curve": curve, "completions": done, "tokens": tokens, "train_seconds": time.perf_counter() - started,
            "greedy_exact_match": greedy_exact_match(model, work)}


# -- orchestration ------------------------------------------------------------------------------
def summarise(name: str, res: dict[str, Any]) -> dict[str, Any]:
    curve = res["curve"]
    rewards = [p["reward"] for p in curve]
    reach = None
    for i in range(9, len(rewards)):
        if sum(rewards[i - 9 : i + 1]) / 10 >= TARGET:
            reach = {"seconds": curve[i]["seconds"], "step": curve[i]["step"]}
            break
    return {"run": name, "steps": len(curve), "train_seconds": res["train_seconds"],
            "completions_per_s": res["completions"] / res["train_seconds"],
            "tokens_per_s": res["tokens"] / res["train_seconds"],
            "final_reward_10": sum(rewards[-10:]) / max(len(rewards[-10:]), 1),
            "to_target": reach, "greedy_exact_match": res["greedy_exact_match"],
            "peak_rss_mib": res.get("peak_rss_mib"), "peak_gpu_mib": res.get("peak_gpu_mib"),
            "profile": res.get("profile")}


def child(args: argparse.Namespace) -> int:
    work = Path(args.work)
    if args.child == "warm":
        res = run_warm(work)
    elif args.child.startswith("seqrl_"):
        res = run_seqrl(work, args.child.split("_", 1)[1], args.budget)
    elif args.child.startswith("trl_"):
        res = run_trl(work, args.child.split("_", 1)[1], args.budget)
    else:
        res = run_plain(work, args.budget)
    res["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device().startswith("cuda"):
        import torch

        res["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    (work / f"{args.child}.json").write_text(json.dumps(res))
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=None, help="training seconds per run (default 300; --quick: 10)")
    p.add_argument("--quick", action="store_true", help="smoke test: short runs, nothing written to docs/")
    p.add_argument("--work", default="runs/trl-comparison")
    p.add_argument("--out", default="benchmarks/results/trl.json")
    p.add_argument("--runs", default=",".join(RUNS))
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the results in --work")
    p.add_argument("--model", choices=sorted(SIZES), default="tiny",
                   help="tiny: the 2-layer task model; small: GPT-2-small-sized (12 layers, width 768), random "
                        "weights plus the same short warm start, for throughput on a model dominated by compute")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N: where both peers train (default cpu)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="fp32, or bf16 autocast for both peers (default fp32)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:  # model size, device and precision come from the parent, through the environment
        return child(args)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SystemExit(f"--device {args.device}: this torch ({torch.__version__}) sees no CUDA GPU")
    if "plain" in args.runs.split(",") and args.device != "cpu":
        raise SystemExit("--runs: 'plain' runs on the CPU only; leave it out with --device " + args.device)
    # children inherit these
    os.environ.update(SEQRL_TRL_MODEL=args.model, SEQRL_TRL_DEVICE=args.device, SEQRL_TRL_PRECISION=args.precision)
    budget = args.budget if args.budget is not None else (10.0 if args.quick else 300.0)
    work = (ROOT / args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    make_data(work)
    from measure import child_env  # beside this script

    env = child_env(ROOT, 2)  # children inherit PYTHONPATH (offline GPU machines bring packages so)

    def spawn(name: str) -> dict[str, Any]:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--work", str(work),
               "--budget", str(budget)]
        print("$", " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{name} failed:\n{proc.stderr[-4000:]}")
        return json.loads((work / f"{name}.json").read_text())

    if args.report_only:  # rebuild the report from the runs' results already in --work
        warm = json.loads((work / "warm.json").read_text())
        results = {name: json.loads((work / f"{name}.json").read_text()) for name in args.runs.split(",")}
    else:
        warm = spawn("warm")
        print("warm start:", warm, flush=True)
        results = {name: spawn(name) for name in args.runs.split(",")}
    from trl_report import environment, markdown, plot, ratios, same_curve  # beside this script

    check_path = work / "padding_check.json"  # measured once: --report-only reuses it, so the report is the same
    if args.report_only and check_path.exists():  # (a rerun of the check can differ in the 7th decimal)
        warm["padding_check"] = json.loads(check_path.read_text())
    else:
        warm["padding_check"] = padding_check(work)
        check_path.write_text(json.dumps(warm["padding_check"]) + "\n")

    rows = [summarise(name, res) for name, res in results.items()]
    curves = {n: r["curve"] for n, r in results.items()}
    report = {"mode": "quick" if args.quick else "full", "model": {"size": args.model, **SIZES[args.model]},
              "device": args.device, "precision": args.precision,
              "budget_s": budget, "warm_start": warm, "rows": rows,
              "ratios": ratios(rows), "same_update": {o: same_curve(curves, "seqrl_rloo", o) for o in ("trl_rloo", "trl_rloo_posfix", "plain")},
              "environment": environment(), "curves": curves,
              "settings": {"trl": {k: v for k, v in trl_settings().items() if k != "report_to"},
                           "prompts_per_step": PROMPTS_PER_STEP, "samples_per_prompt": SAMPLES, "lr": LR,
                           "max_new_tokens": MAX_NEW, "target": TARGET, "skip_profile": SKIP_PROFILE}}
    out = (ROOT / args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    plot(report, out.with_suffix(".png"))  # beside --out: a run never rewrites another's picture
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
