"""Text tasks end to end: files -> tokenizer -> cross-entropy -> REINFORCE on BLEU -> corpus metrics."""
import json
import random

import pytest
import torch

from seqrl.config import ConfigError
from seqrl.run import jsonl
from seqrl.sources import make_trainer, resume
from tests.conftest import fit_until_interrupted, tiny_config
from tests.train import text_rewards

WORDS = "apple river stone cloud green quick blue house tree light small dog cat bird fish red".split()


def corpus(tmp_path, n_train=400, n_valid=40):
    rng = random.Random(0)
    for split, n in (("train", n_train), ("valid", n_valid)):
        src, tgt = [], []
        for _ in range(n):
            words = rng.choices(WORDS, k=rng.randint(2, 6))
            src.append(" ".join(words))
            tgt.append(" ".join(reversed(words)).capitalize() + ".")
        (tmp_path / f"{split}.src").write_text("\n".join(src) + "\n")
        (tmp_path / f"{split}.tgt").write_text("\n".join(tgt) + "\n")
    return [f"data.train={tmp_path / 'train'}", f"data.valid={tmp_path / 'valid'}", "task.name=text",
            "data.vocab_size=80", "data.max_tokens=16"]


def test_text_run_trains_tokenizer_and_reports_corpus_bleu(tmp_path):
    data = corpus(tmp_path)
    cfg = tiny_config(*data, "optim.steps=700", "curriculum.warmup_steps=600", "run.eval_every=350",
                      "run.checkpoint_every=350", "model.hidden_dim=64", "task.reward=0.5*bleu+0.5*chrf")
    summary = make_trainer(cfg, tmp_path / "run").fit()
    assert (tmp_path / "run" / "tokenizer.json").exists()
    assert summary["bleu"] > 50.0 and 0.0 <= summary["reward"] <= 1.0, summary
    evals = list(jsonl.read(tmp_path / "run" / "eval.jsonl"))
    assert evals[-1]["samples"][0]["reference"].endswith(".")  # detokenized text, not ids
    rl = [r for r in jsonl.read(tmp_path / "run" / "metrics.jsonl") if r["mode"] == "reinforce"]
    assert rl and all(0.0 <= r["reward_mean"] <= 1.0 for r in rl)


def test_text_run_resumes_exactly_with_its_saved_tokenizer(tmp_path, monkeypatch):
    data = corpus(tmp_path, 200, 20)
    cfg = tiny_config(*data)
    full = make_trainer(cfg, tmp_path / "full")
    full.fit()
    stopped = make_trainer(cfg, tmp_path / "stopped")
    fit_until_interrupted(stopped, monkeypatch, 13)
    resumed = resume(tmp_path / "stopped")
    resumed.fit()
    a, b = full.source.policy.state_dict(), resumed.source.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_all_references_reach_the_reward(tmp_path):
    lines = [json.dumps({"source": "a b c", "references": ["c b a", "C B A"]})] * 30
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    text_rewards.SEEN["references"].clear()
    cfg = tiny_config("task.name=text", "data.format=jsonl", f"data.train={tmp_path / 'd.jsonl'}",
                      f"data.valid={tmp_path / 'd.jsonl'}", "data.vocab_size=40", "optim.steps=10",
                      "task.reward=tests.train.text_rewards:count_references")
    make_trainer(cfg, tmp_path / "run").fit()
    assert text_rewards.SEEN["references"] and all(r == ["c b a", "C B A"] for r in text_rewards.SEEN["references"])


def test_extra_data_fields_reach_the_reward_in_training_and_validation(tmp_path):
    rows = [{"source": "a b c", "references": "c b a", "topic": "animals" if i % 2 else "plants"} for i in range(30)]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    text_rewards.SEEN.pop("topic", None)
    cfg = tiny_config("task.name=text", "data.format=jsonl", f"data.train={tmp_path / 'd.jsonl'}",
                      f"data.valid={tmp_path / 'd.jsonl'}", "data.vocab_size=40", "optim.steps=10",
                      "task.reward=tests.train.text_rewards:needs_topic", "run.eval_every=10")
    summary = make_trainer(cfg, tmp_path / "run").fit()
    assert set(text_rewards.SEEN["topic"]) == {"animals", "plants"}
    assert summary["reward"] == pytest.approx(0.5)  # validation's mean reward saw the field too


def test_text_config_errors_before_compute(tmp_path):
    with pytest.raises(ConfigError, match="needs data.train and data.valid"):
        tiny_config("task.name=text")
    (tmp_path / "bad.jsonl").write_text('{"source": "a", "references": "b"}\n{oops\n')
    cfg = tiny_config("task.name=text", "data.format=jsonl", f"data.train={tmp_path / 'bad.jsonl'}",
                      f"data.valid={tmp_path / 'bad.jsonl'}")
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: invalid JSON"):
        make_trainer(cfg, tmp_path / "run")
    with pytest.raises(ConfigError, match="task.reward"):
        make_trainer(tiny_config(*corpus(tmp_path), "task.reward=bleuu"), tmp_path / "run2")


def test_given_tokenizer_is_used_instead_of_training_one(tmp_path):
    data = corpus(tmp_path, 200, 20)
    first = make_trainer(tiny_config(*data, "optim.steps=2"), tmp_path / "first")
    given = tmp_path / "first" / "tokenizer.json"
    second = make_trainer(tiny_config(*data, "optim.steps=2", "data.vocab_size=500",
                                 f"data.tokenizer_path={given}"), tmp_path / "second")
    assert second.source.task.vocab.size == first.source.task.vocab.size < 500  # loaded, not trained
    assert (tmp_path / "second" / "tokenizer.json").read_text() == given.read_text()  # a copy for eval
    with pytest.raises(ConfigError, match="data.tokenizer_path: no tokenizer"):
        make_trainer(tiny_config(*data, f"data.tokenizer_path={tmp_path / 'missing.json'}"), tmp_path / "third")


def test_init_from_a_run_starts_from_its_best_checkpoint_and_tokenizer(tmp_path):
    data = corpus(tmp_path, 200, 20)
    first = make_trainer(tiny_config(*data, "curriculum.kind=xent", "optim.steps=24"), tmp_path / "first")
    first.fit()
    evals = list(jsonl.read(tmp_path / "first" / "eval.jsonl"))
    best = max(evals, key=lambda r: r["bleu"])  # max() keeps the first of equal scores, as the trainer does
    assert first.state.best_step == best["step"] and first.state.best_exact == best["bleu"]
    second = make_trainer(tiny_config(*data, "data.vocab_size=500", f"run.init_from={tmp_path / 'first'}"),
                     tmp_path / "second")
    assert second.source.task.vocab.size == first.source.task.vocab.size  # the first run's tokenizer, not a new one
    at_best = resume(tmp_path / "first")
    at_best.load_file(tmp_path / "first" / "checkpoints" / "best.safetensors")
    a, b = at_best.source.policy.state_dict(), second.source.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert second.state.step == 0


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_separate_source_and_target_vocabularies(tmp_path, kind):
    data = corpus(tmp_path, 200, 20)
    (tmp_path / "train.src").write_text((tmp_path / "train.src").read_text().upper())  # a different "language"
    (tmp_path / "valid.src").write_text((tmp_path / "valid.src").read_text().upper())
    cfg = tiny_config(*data, "data.shared_vocab=false", "data.source_vocab_size=60", f"model.kind={kind}",
                      "optim.steps=4", "curriculum.warmup_steps=2")
    trainer = make_trainer(cfg, tmp_path / "run")
    task = trainer.source.task
    assert task.source_vocab_size == 60 and task.vocab.size == 80
    assert trainer.source.policy.network.src_embed.num_embeddings == 60
    example = trainer.source.data.validation[0]
    assert task.render_source(example.source).isupper() and not task.vocab.render(example.target).isupper()
    trainer.fit()
    resumed = resume(tmp_path / "run")  # both tokenizers come back from the run directory
    assert resumed.source.task.source_tokenizer is not None and resumed.source.task.source_vocab_size == 60
    sample = list(jsonl.read(tmp_path / "run" / "eval.jsonl"))[-1]["samples"][0]
    assert sample["source"].isupper()


def test_separate_vocabularies_need_an_encoder(tmp_path):
    with pytest.raises(ConfigError, match="data.shared_vocab=false needs an encoder-decoder model"):
        make_trainer(tiny_config(*corpus(tmp_path, 50, 5), "data.shared_vocab=false", "model.kind=transformer_lm"),
                tmp_path / "run")


def test_reward_workers_give_the_same_run_as_in_process_rewards(tmp_path):
    data = corpus(tmp_path, 120, 12)
    base = (*data, "optim.steps=6", "curriculum.warmup_steps=2", "task.reward=0.5*bleu+0.5*chrf")
    local = make_trainer(tiny_config(*base), tmp_path / "local")
    local.fit()
    pooled = make_trainer(tiny_config(*base, "task.reward_workers=2"), tmp_path / "pooled")
    pooled.fit()
    pooled.source.task.reward_fn.close()
    a, b = local.source.policy.state_dict(), pooled.source.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_python_reward_for_text_gets_strings_and_must_pickle_for_workers(tmp_path):
    data = corpus(tmp_path, 60, 6)
    seen = []

    def words(completions, references, sources, **columns):
        seen.extend(completions)
        return [float(len(c.split())) / 10 for c in completions]

    make_trainer(tiny_config(*data, "optim.steps=3", "curriculum.kind=reinforce"), tmp_path / "a", reward_fn=words).fit()
    assert seen and all(isinstance(c, str) for c in seen)
    with pytest.raises(ConfigError, match="task.reward_workers: .*picklable"):
        make_trainer(tiny_config(*data, "task.reward_workers=2"), tmp_path / "b", reward_fn=words)


def test_streamed_training_data_is_a_pure_function_of_the_step_and_resumes_exactly(tmp_path, monkeypatch):
    data = corpus(tmp_path, 90, 10)
    stream = ("data.stream=true", "data.shuffle_buffer=16", "optim.batch_size=8")
    trainer = make_trainer(tiny_config(*data, *stream), tmp_path / "probe")
    epoch = [ex for step in range(12) for ex in trainer.source.data.train_batch(step, 8)][:90]
    in_memory = make_trainer(tiny_config(*data), tmp_path / "mem")
    assert sorted(map(repr, epoch)) == sorted(map(repr, in_memory.source.data.train))  # one epoch = every example once, shuffled
    assert epoch != list(in_memory.source.data.train)
    fresh = make_trainer(tiny_config(*data, *stream), tmp_path / "probe2")
    assert fresh.source.data.train_batch(7, 8) == trainer.source.data.train_batch(7, 8)  # replayed, not continued
    full = make_trainer(tiny_config(*data, *stream), tmp_path / "full")
    full.fit()
    stopped = make_trainer(tiny_config(*data, *stream), tmp_path / "stopped")
    fit_until_interrupted(stopped, monkeypatch, 13)
    resumed = resume(tmp_path / "stopped")
    resumed.fit()
    a, b = full.source.policy.state_dict(), resumed.source.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_streamed_data_reports_a_bad_line_before_training(tmp_path):
    data = corpus(tmp_path, 30, 5)
    with open(tmp_path / "train.src", "a") as f:
        f.write("one extra line\n")
    with pytest.raises(ConfigError, match=r"train.tgt:31: unaligned files"):
        make_trainer(tiny_config(*data, "data.stream=true"), tmp_path / "run")


def test_prompt_only_data_trains_with_a_reference_free_reward(tmp_path):
    rows = [{"prompt": " ".join(WORDS[i % 7: i % 7 + 3])} for i in range(40)]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    data = ["task.name=text", "data.format=jsonl", f"data.train={tmp_path / 'p.jsonl'}",
            f"data.valid={tmp_path / 'p.jsonl'}", "data.source_key=prompt", "data.reference_key=null",
            "data.vocab_size=40", "optim.steps=6", "run.eval_every=6"]
    with pytest.raises(ConfigError, match="task.reward='task' compares outputs with references"):
        tiny_config(*data)
    cfg = tiny_config(*data, "task.reward=tests.train.text_rewards:short_answers", "curriculum.kind=reinforce")
    summary = make_trainer(cfg, tmp_path / "run").fit()
    assert set(summary) >= {"reward"} and "bleu" not in summary and 0.0 <= summary["reward"] <= 1.0
    rl = [r for r in jsonl.read(tmp_path / "run" / "metrics.jsonl") if r["mode"] == "reinforce"]
    assert len(rl) == 6 and all(r["reward_mean"] is not None for r in rl)


def test_a_reward_module_in_the_working_directory_is_found(tmp_path, monkeypatch):
    (tmp_path / "myrewards_cwd.py").write_text(
        "def score(completions, references, sources, **columns):\n    return [1.0] * len(completions)\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", str(tmp_path))])
    from seqrl.sequences.build import load_callable

    assert load_callable("myrewards_cwd:score", "task.reward")([[1]], [None], [[1]]) == [1.0]
