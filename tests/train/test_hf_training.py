"""model.kind=hf end to end: a tiny local GPT-2 / T5 trained by cross-entropy then REINFORCE on a
text reward, exact resume, LoRA, export in Hugging Face format."""
import pytest
import torch

from seqrl.config import ConfigError
from seqrl.sequences.build_hf import export_hf
from seqrl.sources import make_trainer, resume
from tests.conftest import fit_until_interrupted, tiny_config
from tests.train.test_text import WORDS, corpus

transformers = pytest.importorskip("transformers", reason="the `hf` extra is not installed")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from tests.hf_models import save_tiny

    root = tmp_path_factory.mktemp("hf")
    words = WORDS + [w.capitalize() for w in WORDS] + ["."]
    return {kind: save_tiny(root / kind, kind, words) for kind in ("gpt2", "t5")}


def _cfg(tmp_path, model_dir, *extra):
    return tiny_config(*corpus(tmp_path, 120, 12), "model.kind=hf", f"model.hf_path={model_dir}",
                       "optim.steps=10", "curriculum.kind=warmup", "curriculum.warmup_steps=5", "optim.lr=0.001", *extra)


@pytest.mark.parametrize("kind", ["gpt2", "t5"])
def test_hf_model_trains_with_xent_then_reinforce(tmp_path, models, kind):
    trainer = make_trainer(_cfg(tmp_path, models[kind]), tmp_path / "run")
    before = {k: v.clone() for k, v in trainer.source.policy.state_dict().items()}
    assert trainer.source.task.specials.eos == 2 and trainer.source.policy.network.specials.eos == 2
    summary = trainer.fit()
    assert summary["step"] == 10 and 0.0 <= summary["reward"] <= 1.0
    after = trainer.source.policy.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert (tmp_path / "run" / "hf_tokenizer" / "tokenizer.json").exists()


def test_hf_run_resumes_exactly(tmp_path, models, monkeypatch):
    cfg = _cfg(tmp_path, models["gpt2"], "run.checkpoint_every=4")
    full = make_trainer(cfg, tmp_path / "full")
    full.fit()
    stopped = make_trainer(cfg, tmp_path / "stopped")
    fit_until_interrupted(stopped, monkeypatch, 7)
    resumed = resume(tmp_path / "stopped")
    resumed.fit()
    a, b = full.source.policy.state_dict(), resumed.source.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_lora_trains_only_adapters_and_exports_a_merged_model(tmp_path, models):
    trainer = make_trainer(_cfg(tmp_path, models["gpt2"], "model.lora_r=4", "model.lora_targets=c_attn"),
                      tmp_path / "run")
    before = {k: v.clone() for k, v in trainer.source.policy.state_dict().items()}
    trainer.fit()
    after = trainer.source.policy.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all("lora_" in k for k in changed)
    out = export_hf(trainer.source.policy, trainer.source.task.tokenizer, tmp_path / "export")
    loaded = transformers.AutoModelForCausalLM.from_pretrained(str(out)).eval()
    trainer.source.policy.eval()
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        ours = trainer.source.policy.network.model(input_ids=ids).logits
        theirs = loaded(input_ids=ids).logits
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_hf_config_errors(tmp_path, models):
    with pytest.raises(ConfigError, match="model.kind=hf needs model.hf_path"):
        tiny_config(*corpus(tmp_path, 20, 4), "model.kind=hf")
    with pytest.raises(ConfigError, match="model.hf_path: no Hugging Face model"):
        make_trainer(_cfg(tmp_path, tmp_path / "nothing"), tmp_path / "run")
    with pytest.raises(ConfigError, match="needs task.name=text"):
        tiny_config("model.kind=hf", f"model.hf_path={models['gpt2']}")


def test_lora_kl_reference_is_the_base_model_without_adapters(tmp_path, models):
    from seqrl.run import jsonl
    from seqrl.sequences.reference import AdapterOffReference

    trainer = make_trainer(_cfg(tmp_path, models["gpt2"], "model.lora_r=4", "model.lora_targets=c_attn",
                           "curriculum.kind=reinforce", "reinforce.kl_coef=0.1", "reinforce.kl_estimator=k3",
                           "optim.rl_lr=0.01", "optim.steps=6"), tmp_path / "run")
    assert isinstance(trainer.source.reference, AdapterOffReference)
    trainer.fit()
    kls = [r["kl"] for r in jsonl.read(tmp_path / "run" / "metrics.jsonl")]
    assert abs(kls[0]) < 1e-6 and kls[-1] > kls[0]  # LoRA starts as the identity, then moves


def test_attention_and_activation_settings_reach_the_model(tmp_path, models):
    from transformers.activations import NewGELUActivation

    fused = make_trainer(_cfg(tmp_path, models["gpt2"], "model.hf_attention=eager"), tmp_path / "a").source.policy.network.model
    assert fused.config._attn_implementation == "eager"
    assert not any(isinstance(m, NewGELUActivation) for m in fused.modules())  # gelu_new runs fused
    plain = make_trainer(_cfg(tmp_path, models["gpt2"], "model.hf_fused_activations=false"), tmp_path / "b").source.policy.network.model
    assert sum(isinstance(m, NewGELUActivation) for m in plain.modules()) == 2
    with pytest.raises(ConfigError, match="model.hf_attention='no_such_kernel'"):
        make_trainer(_cfg(tmp_path, models["gpt2"], "model.hf_attention=no_such_kernel"), tmp_path / "c")


def test_a_model_folder_without_a_tokenizer_is_refused(tmp_path, models):
    import shutil

    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(models["gpt2"] / name, bare / name)
    with pytest.raises(ConfigError, match=rf"model.hf_path: {bare} has no tokenizer \(none of tokenizer.json"):
        make_trainer(_cfg(tmp_path, bare), tmp_path / "run")


def test_prompt_plus_completion_beyond_the_position_limit_is_refused_before_compute(tmp_path, models):
    # the tiny GPT-2 has n_positions=64; corpus prompts are at most 6 words (+ specials)
    with pytest.raises(ConfigError, match=r"the longest prompt \(\d+ tokens\) \+ reinforce.max_len \(60\) = \d+ "
                                          r"exceeds the model's n_positions \(64\)"):
        make_trainer(_cfg(tmp_path, models["gpt2"], "reinforce.max_len=60"), tmp_path / "run")
    make_trainer(_cfg(tmp_path, models["gpt2"], "reinforce.max_len=40"), tmp_path / "ok")  # fits
    # keeping the end of over-long prompts (data.keep_source=end) with a small data.max_tokens fits them
    trainer = make_trainer(_cfg(tmp_path, models["gpt2"], "reinforce.max_len=60", "data.max_tokens=3",
                           "data.keep_source=end"), tmp_path / "cut")
    assert max(len(e.source) for e in trainer.source.data.train) == 3


def test_hf_runs_default_to_reinforce_from_the_first_step(tmp_path, models):
    from seqrl.config import load_config

    data = corpus(tmp_path, 20, 4)
    assert load_config(None, [*data, "model.kind=hf", f"model.hf_path={models['gpt2']}"]).curriculum.kind == "reinforce"
    assert load_config(None, [*data, "model.kind=hf", f"model.hf_path={models['gpt2']}",
                              "curriculum.kind=warmup"]).curriculum.kind == "warmup"  # asked for: kept
    assert load_config(None, data).curriculum.kind == "warmup"  # other models keep the demo's default
