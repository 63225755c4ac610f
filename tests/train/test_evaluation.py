"""seqrl eval on text runs: any split from files or a saved dataset, hypotheses file, signatures."""
import json

import pytest

from seqrl.cli import main
from seqrl.sources import make_trainer
from tests.conftest import tiny_config
from tests.train.test_text import WORDS, corpus


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evaltext")
    data = corpus(tmp, 300, 30)
    (tmp / "test.src").write_text("river stone\nblue house tree\n\ngreen\n")
    (tmp / "test.tgt").write_text("Stone river.\nTree house blue.\nNothing.\nGreen.\n")
    cfg = tiny_config(*data, "optim.steps=300", "curriculum.kind=xent", "run.eval_every=100",
                      "model.hidden_dim=64", "data.metrics=bleu,chrf,rouge-l,ter")
    make_trainer(cfg, tmp / "run").fit()
    return tmp


def test_eval_writes_hypotheses_and_scores_any_split(text_run, capsys):
    run = text_run / "run"
    assert main(["eval", str(run), "--data", str(text_run / "test"), "--split", "test", "--beam", "3",
                 "--checkpoint", "best"]) == 0
    out = json.loads(capsys.readouterr().out)
    stem = f"test.beam3.step{out['step']}"  # the checkpoint evaluated names the files
    assert out["hypotheses"].endswith(f"{stem}.txt")
    hyps = (run / "eval" / f"{stem}.txt").read_text().splitlines()
    assert out["size"] == len(hyps) == 3 and out["reader"]["dropped_empty"] == 1  # the empty source
    from sacrebleu.metrics import BLEU
    refs = ["Stone river.", "Tree house blue.", "Green."]
    assert out["bleu"] == pytest.approx(BLEU().corpus_score(hyps, [refs]).score)  # the file is what was scored
    assert out["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert {"chrf", "chrf_signature", "rouge-l", "ter"} <= set(out)
    assert json.loads((run / "eval" / f"{stem}.json").read_text())["bleu"] == out["bleu"]


def test_hf_disk_runs_train_and_evaluate_their_splits(tmp_path, capsys):
    datasets = pytest.importorskip("datasets", reason="the `datasets` extra is not installed")
    import random
    rng = random.Random(1)

    def rows(n):
        words = [rng.choices(WORDS, k=rng.randint(2, 5)) for _ in range(n)]
        return {"translation": [{"xx": " ".join(w), "yy": " ".join(reversed(w))} for w in words]}

    splits = {name: datasets.Dataset.from_dict(rows(n)) for name, n in (("train", 200), ("dev", 20), ("test", 10))}
    datasets.DatasetDict(splits).save_to_disk(str(tmp_path / "ds"))
    ds = str(tmp_path / "ds")
    cfg = tiny_config("task.name=text", "data.format=hf_disk", f"data.train={ds}", f"data.valid={ds}",
                      "data.valid_split=dev", "data.source_key=translation.xx",
                      "data.reference_key=translation.yy", "data.vocab_size=60", "optim.steps=8")
    trainer = make_trainer(cfg, tmp_path / "run")
    assert len(trainer.source.data.train) == 200 and len(trainer.source.data.validation) == 20
    trainer.fit()
    assert main(["eval", str(tmp_path / "run"), "--data", ds, "--split", "test"]) == 0
    assert json.loads(capsys.readouterr().out)["size"] == 10
    assert main(["eval", str(tmp_path / "run"), "--data", ds, "--split", "nope"]) == 2
    assert "no split 'nope'" in capsys.readouterr().err
