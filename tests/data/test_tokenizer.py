import pytest

from seqrl.data.tokenizer import SubwordTokenizer, train_tokenizer
from seqrl.vocab import BOS, EOS, PAD

CORPUS = ["Zwei junge weiße Männer sind im Freien.", "Ein Mann mit einem orangefarbenen Hut.",
          "Two young, White males are outside near many bushes.", "A man in an orange hat starring at something.",
          "Ein Hund läuft im Schnee!", "Das ist 100% richtig, oder?"] * 20


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_round_trip_detokenizes_exactly(kind, tmp_path):
    tok = train_tokenizer(iter(CORPUS), kind=kind, vocab_size=120, min_frequency=1)
    for text in set(CORPUS):
        ids = tok.encode(text)
        assert ids and min(ids) > EOS  # specials never appear in encoded text
        assert tok.decode(ids) == text
        assert tok.decode([BOS] + ids + [EOS, PAD, 7]) == text  # stops at EOS, skips BOS
    path = tmp_path / "tok.json"
    tok.save(path)
    loaded = SubwordTokenizer.load(path)
    assert loaded.encode(CORPUS[0]) == tok.encode(CORPUS[0]) and loaded.size == tok.size


def test_special_ids_and_errors(tmp_path):
    tok = train_tokenizer(CORPUS, vocab_size=80, min_frequency=1)
    assert [tok.tokenizer.token_to_id(t) for t in ("<pad>", "<bos>", "<eos>")] == [PAD, BOS, EOS]
    with pytest.raises(ValueError, match="kind"):
        train_tokenizer(CORPUS, kind="wordpiece")
    with pytest.raises(FileNotFoundError):
        SubwordTokenizer.load(tmp_path / "missing.json")
