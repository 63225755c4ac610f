"""Text rewards against their reference implementations (sacrebleu, rouge-score) and naive versions."""
from __future__ import annotations

import math
import random
from functools import lru_cache

import pytest
import sacrebleu
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF, TER

from seqrl.rewards.combine import WeightedSum, parse_reward_spec, parse_terms, weighted_sum
from seqrl.rewards.text import (
    TEXT_REWARDS,
    TextReward,
    WhitespaceTokenizer,
    canonical_name,
    chrf,
    chrf_plus_plus,
    edit_similarity,
    exact_match_text,
    length_penalty,
    levenshtein,
    make_text_reward,
    rouge,
    sentence_bleu,
    ter,
    token_f1,
)

# (hypothesis, references): edge cases included.
VECTORS: list[tuple[str, list[str]]] = [
    ("the cat sat on the mat", ["the cat sat on the mat"]),
    ("the cat sat on a hat", ["the cat sat on the mat"]),
    ("", ["the cat sat on the mat"]),  # empty hypothesis
    ("the cat", [""]),  # empty reference
    ("", [""]),
    ("Die Straße ist schön und grün", ["Die Strasse ist schön, grün und übersichtlich"]),  # umlauts
    ("我 喜欢 吃 苹果", ["我 喜欢 吃 香蕉"]),  # CJK, space-separated
    ("我喜欢吃苹果", ["我喜欢吃香蕉"]),  # CJK, unsegmented
    ("the cat sat on the mat and then it slept for a very long time by the door", ["the cat sat", "a cat sat on the mat"]),  # longer than any ref
    ("a cat is on the mat", ["the cat is on the mat", "there is a cat on the mat", "mat"]),  # multiple refs
    ("It is a guide to action which ensures that the military always obeys the commands of the party.",
     ["It is a guide to action that ensures that the military will forever heed Party commands.",
      "It is the guiding principle which guarantees the military forces always being under the command of the Party."]),
]
IDS = [f"v{i}" for i in range(len(VECTORS))]
HYPS = [h for h, _ in VECTORS]
REFS = [r for _, r in VECTORS]


def _batch(fn):
    return fn(HYPS, REFS, [None] * len(HYPS))


# ---------------------------------------------------------------- sacrebleu


@pytest.mark.parametrize("hyp,refs", VECTORS, ids=IDS)
def test_sentence_bleu_matches_sacrebleu(hyp, refs):
    expected = BLEU(effective_order=True).sentence_score(hyp, refs).score / 100
    assert sentence_bleu([hyp], [refs], [None])[0] == pytest.approx(min(1.0, expected), abs=1e-12)
    assert sacrebleu.sentence_bleu(hyp, refs).score / 100 == pytest.approx(expected)


@pytest.mark.parametrize("method,value", [("exp", None), ("floor", 0.1), ("floor", 0.5), ("add-k", 1), ("add-k", 2), ("none", None)])
def test_bleu_smoothing_options(method, value):
    fn = make_text_reward("bleu", smooth_method=method, smooth_value=value)
    got = _batch(fn)
    for (hyp, refs), g in zip(VECTORS, got):
        ref = BLEU(smooth_method=method, smooth_value=value, effective_order=True).sentence_score(hyp, refs).score / 100
        assert g == pytest.approx(min(1.0, ref), abs=1e-12)
        assert 0.0 <= g <= 1.0


def test_bleu_unknown_smoothing_raises_at_construction():
    with pytest.raises(ValueError, match="smooth_method"):
        make_text_reward("bleu", smooth_method="bogus")
    with pytest.raises(TypeError):
        make_text_reward("bleu", not_an_option=1)


def test_bleu_tokenizer_option_for_cjk():
    fn = make_text_reward("bleu", tokenize="zh")
    ref = BLEU(tokenize="zh", effective_order=True).sentence_score("我喜欢吃苹果", ["我喜欢吃香蕉"]).score / 100
    assert fn(["我喜欢吃苹果"], ["我喜欢吃香蕉"], [None]) == [pytest.approx(ref)]
    assert 0 < ref < 1


@pytest.mark.parametrize("hyp,refs", VECTORS, ids=IDS)
def test_chrf_and_chrfpp_match_sacrebleu(hyp, refs):
    assert chrf([hyp], [refs], [None])[0] == pytest.approx(sacrebleu.sentence_chrf(hyp, refs).score / 100)
    assert chrf_plus_plus([hyp], [refs], [None])[0] == pytest.approx(CHRF(word_order=2).sentence_score(hyp, refs).score / 100)
    assert make_text_reward("chrf", word_order=2, beta=1)([hyp], [refs])[0] == pytest.approx(
        CHRF(word_order=2, beta=1).sentence_score(hyp, refs).score / 100)


@pytest.mark.parametrize("hyp,refs", VECTORS, ids=IDS)
def test_ter_reward_is_one_minus_ter_clipped(hyp, refs):
    t = TER().sentence_score(hyp, refs).score
    assert ter([hyp], [refs], [None])[0] == pytest.approx(max(0.0, 1 - t / 100))
    t_cs = TER(case_sensitive=True).sentence_score(hyp.upper(), refs).score
    assert make_text_reward("ter", case_sensitive=True)([hyp.upper()], [refs])[0] == pytest.approx(max(0.0, 1 - t_cs / 100))


def test_ter_above_100_gives_zero():
    assert TER().sentence_score("x y z w v u", ["x y"]).score > 100
    assert ter(["x y z w v u"], ["x y"], [None]) == [0.0]
    assert ter(["x y"], ["x y"], [None]) == [1.0]


# ---------------------------------------------------------------- rouge


@pytest.mark.parametrize("hyp,refs", VECTORS, ids=IDS)
@pytest.mark.parametrize("name,rtype", [("rouge-1", "rouge1"), ("rouge-2", "rouge2"), ("rouge-l", "rougeL")])
@pytest.mark.parametrize("stem", [False, True])
def test_rouge_matches_rouge_score_max_over_refs(hyp, refs, name, rtype, stem):
    scorer = rouge_scorer.RougeScorer([rtype], use_stemmer=stem)
    expected = max(scorer.score(r, hyp)[rtype].fmeasure for r in refs)
    assert make_text_reward(name, use_stemmer=stem)([hyp], [refs])[0] == pytest.approx(expected)


def test_rouge_default_is_rouge_l_and_stemming_matters():
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    assert rouge(["the cat sat"], ["a cat sits"], [None]) == [pytest.approx(scorer.score("a cat sits", "the cat sat")["rougeL"].fmeasure)]
    assert make_text_reward("rouge-1", use_stemmer=True)(["cats running"], ["cat runs"]) == [1.0]
    assert make_text_reward("rouge-1")(["cats running"], ["cat runs"]) == [0.0]


def test_rouge_whitespace_tokenizer_handles_cjk():
    hyp, ref = "我 喜欢 吃 苹果", "我 喜欢 吃 香蕉"
    assert make_text_reward("rouge-1")([hyp], [ref]) == [0.0]  # rouge-score's tokenizer drops non-ASCII
    scorer = rouge_scorer.RougeScorer(["rouge1"], tokenizer=WhitespaceTokenizer())
    got = make_text_reward("rouge-1", tokenizer="whitespace")([hyp], [ref])[0]
    assert got == pytest.approx(scorer.score(ref, hyp)["rouge1"].fmeasure) == pytest.approx(0.75)


def test_rouge_bad_options():
    with pytest.raises(ValueError):
        make_text_reward("rouge-l", tokenizer="spaces")
    with pytest.raises(TypeError):
        make_text_reward("rouge-l", rouge_type="rouge1")  # fixed by the name


# ---------------------------------------------------------------- pure-Python metrics


def test_exact_match_text():
    refs = ["Paris", ["paris", "Paris, France"], "  New   York ", None]
    assert exact_match_text(["Paris", "Paris", "New York", "x"], refs, [None] * 4) == [1.0, 0.0, 1.0, None]
    ci = make_text_reward("exact-match", ignore_case=True)
    assert ci(["PARIS", "PARIS", "new york"], refs[:3]) == [1.0, 1.0, 1.0]
    strict = make_text_reward("exact_match", collapse_whitespace=False)
    assert strict(["New York", "  New   York "], ["  New   York "] * 2) == [0.0, 1.0]
    assert exact_match_text([""], [""]) == [1.0]


def test_token_f1_hand_computed():
    # "the" is an article, punctuation dropped: hyp {cat, sat, on, mat}, ref {cat, is, on, mat}
    assert token_f1(["The cat sat on the mat."], ["the cat is on the mat"], [None]) == [pytest.approx(0.75)]
    # precision 1/3, recall 1/1 -> F1 = 0.5
    assert token_f1(["Paris is nice"], ["Paris"], [None]) == [pytest.approx(0.5)]
    # repeated tokens count with multiplicity: common = min(2,1) = 1 -> P=1/2, R=1 -> 2/3
    assert token_f1(["yes yes"], ["yes"], [None]) == [pytest.approx(2 / 3)]
    # max over references
    assert token_f1(["Paris is nice"], [["London", "Paris", "Paris is nice!"]], [None]) == [1.0]
    # empty cases (SQuAD v2 convention) and unicode
    assert token_f1(["", "the", "x", "grün Straße"], ["", "a", "", "Straße"], [None] * 4) == [1.0, 1.0, 0.0, pytest.approx(2 / 3)]
    assert make_text_reward("token-f1", normalize=False)(["The cat"], ["the cat"]) == [pytest.approx(0.5)]


def _naive_lev(a, b):
    @lru_cache(maxsize=None)
    def d(i, j):
        if i == 0:
            return j
        if j == 0:
            return i
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))
    return d(len(a), len(b))


def test_levenshtein_against_naive_recursive_on_random_strings():
    rng = random.Random(0)
    for _ in range(300):
        a = "".join(rng.choice("abcü我") for _ in range(rng.randint(0, 8)))
        b = "".join(rng.choice("abcü我") for _ in range(rng.randint(0, 8)))
        assert levenshtein(a, b) == _naive_lev(a, b)
        sim = edit_similarity([a], [b], [None])[0]
        assert sim == pytest.approx(1.0 if not (a or b) else 1 - _naive_lev(a, b) / max(len(a), len(b)))
        wa, wb = a.replace("c", " ").split(), b.replace("c", " ").split()
        assert levenshtein(wa, wb) == _naive_lev(tuple(wa), tuple(wb))


def test_edit_similarity_hand_computed():
    assert edit_similarity(["kitten"], ["sitting"], [None]) == [pytest.approx(1 - 3 / 7)]
    assert edit_similarity(["", "", "abc"], ["", "abc", ["xyz", "abd"]], [None] * 3) == [1.0, 0.0, pytest.approx(2 / 3)]
    assert edit_similarity(["schön"], ["schon"], [None]) == [pytest.approx(0.8)]
    words = make_text_reward("edit-similarity", unit="word")
    assert words(["the cat sat on the mat"], ["the cat is on the mat"]) == [pytest.approx(5 / 6)]
    with pytest.raises(ValueError, match="unit"):
        make_text_reward("edit-similarity", unit="byte")


def test_length_penalty():
    # relative (default): closest reference by word count
    assert length_penalty(["a b c", "a", "a b c d e f", ""], ["a b c", "a b", ["a b", "a b c d"], ""], [None] * 4) == [
        0.0, -0.5, -0.5, 0.0]
    assert length_penalty(["a b"], [""], [None]) == [-2.0]
    chars = make_text_reward("length-penalty", unit="char")
    assert chars(["abcd"], ["ab"]) == [-1.0]
    bp = make_text_reward("length-penalty", kind="brevity")
    assert bp(["a b c d", "a b", "", "a"], ["a b", "a b c d", "a", ""]) == [1.0, pytest.approx(math.exp(1 - 2)), 0.0, 1.0]
    # the brevity penalty agrees with sacrebleu's
    hyp, refs = VECTORS[-1]
    assert bp([hyp], [refs])[0] == pytest.approx(BLEU(effective_order=True).sentence_score(hyp, refs).bp)
    assert bp(["a b"], [["a b c d", "a b c"]]) == [pytest.approx(BLEU().sentence_score("a b", ["a b c d", "a b c"]).bp)]
    with pytest.raises(ValueError, match="kind"):
        make_text_reward("length-penalty", kind="other")


# ---------------------------------------------------------------- contract


@pytest.mark.parametrize("name", sorted(TEXT_REWARDS))
def test_every_builtin_follows_the_contract(name):
    fn = make_text_reward(name)
    out = fn(HYPS + ["x"], REFS + [None], None, extra_column=[0] * (len(HYPS) + 1))
    assert len(out) == len(HYPS) + 1 and out[-1] is None
    assert all(isinstance(v, float) and math.isfinite(v) for v in out[:-1])
    if name != "length-penalty":
        assert all(0.0 <= v <= 1.0 for v in out[:-1])
    # one string == a one-element list of references
    assert fn(HYPS, [r[0] for r in REFS]) == pytest.approx(fn(HYPS, [r[:1] for r in REFS]))
    assert fn(["a"], None) == [None]


def test_input_errors():
    with pytest.raises(ValueError, match="entries"):
        sentence_bleu(["a", "b"], ["a"], None)
    with pytest.raises(ValueError, match="empty list"):
        chrf(["a"], [[]], None)
    with pytest.raises(TypeError, match="detokenized"):
        token_f1([[1, 2]], ["a"], None)
    with pytest.raises(TypeError, match="detokenized"):
        token_f1(["a"], [[1, 2]], None)


# ---------------------------------------------------------------- combination and specs


def test_weighted_sum():
    ws = weighted_sum([(sentence_bleu, 0.7), (chrf, 0.3)])
    got = ws(HYPS, REFS, None)
    b, c = _batch(sentence_bleu), _batch(chrf)
    assert got == pytest.approx([0.7 * x + 0.3 * y for x, y in zip(b, c)])
    none_some = lambda cs, rs, ss, **kw: [None if i % 2 else 1.0 for i in range(len(cs))]  # noqa: E731
    assert weighted_sum([(exact_match_text, 2.0), (none_some, -1.0)])(["a", "a", "b"], ["a", "a", "a"]) == [1.0, None, -1.0]
    assert weighted_sum([(exact_match_text, 1.0)])(["a", "b"], ["a", None]) == [1.0, None]
    with pytest.raises(ValueError):
        weighted_sum([])
    with pytest.raises(ValueError):
        weighted_sum([(chrf, float("nan"))])
    with pytest.raises(TypeError):
        weighted_sum([("bleu", 1.0)])
    bad = lambda cs, rs, ss, **kw: [1.0]  # noqa: E731
    with pytest.raises(ValueError, match="returned 1 values"):
        weighted_sum([(bad, 1.0)])(["a", "b"], ["a", "b"])


def test_parse_reward_spec_single_names():
    for spec, canon in [("bleu", "bleu"), ("BLEU", "bleu"), ("chrf++", "chrf++"), ("rouge-l", "rouge-l"),
                        ("rouge_L", "rouge-l"), ("rougeL", "rouge-l"), ("em", "exact-match"), ("token_f1", "token-f1")]:
        fn = parse_reward_spec(spec)
        assert isinstance(fn, TextReward) and fn.name == canon
    assert parse_reward_spec(" chrf++ ")(HYPS, REFS) == pytest.approx(_batch(chrf_plus_plus))
    assert parse_reward_spec(sentence_bleu) is sentence_bleu


def test_parse_reward_spec_weighted():
    assert parse_terms("0.7*bleu+0.3*chrf") == [(0.7, "bleu"), (0.3, "chrf")]
    assert parse_terms("chrf+++ter") == [(1.0, "chrf++"), (1.0, "ter")]
    assert parse_terms(" 2 * rouge-l + -1e-1*length_penalty ") == [(2.0, "rouge-l"), (-0.1, "length-penalty")]
    fn = parse_reward_spec("0.7*bleu+0.3*chrf")
    assert isinstance(fn, WeightedSum) and fn.__name__ == "0.7*bleu+0.3*chrf"
    b, c = _batch(sentence_bleu), _batch(chrf)
    assert fn(HYPS, REFS, None) == pytest.approx([0.7 * x + 0.3 * y for x, y in zip(b, c)])
    assert isinstance(parse_reward_spec("2*bleu"), WeightedSum)


@pytest.mark.parametrize("spec,match", [
    ("blue", "Did you mean 'bleu'"),
    ("0.5*chfr", "Did you mean 'chrf"),
    ("rouge-x", "Did you mean"),
    ("xyzzy", "unknown text reward 'xyzzy'"),
    ("", "empty"),
    ("bleu*0.5", "expected '\\+' or the end"),
    ("0.5*", "expected '\\[weight\\*\\]name'"),
    ("bleu+", "expected '\\[weight\\*\\]name'"),
    ("bleu chrf", "expected '\\+' or the end"),
])
def test_parse_reward_spec_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_reward_spec(spec)


def test_registry_and_names():
    assert set(TEXT_REWARDS) >= {"bleu", "chrf", "chrf++", "ter", "rouge-1", "rouge-2", "rouge-l", "exact-match",
                                 "token-f1", "edit-similarity", "length-penalty"}
    assert all(isinstance(d, str) and d for d in TEXT_REWARDS.values())
    assert canonical_name("ROUGE_2") == "rouge-2"
    with pytest.raises(ValueError, match="Did you mean 'token-f1'"):
        make_text_reward("token-f2")
    assert repr(make_text_reward("bleu", smooth_method="floor")) == "make_text_reward('bleu', smooth_method='floor')"


@pytest.mark.parametrize("spec", ["bleu", "chrf++", "ter", "rouge-l", "token-f1", "0.7*bleu+0.3*chrf"])
def test_rewards_pickle_for_worker_processes(spec):
    import pickle

    from seqrl.rewards.combine import parse_reward_spec
    fn = parse_reward_spec(spec)
    hyps, refs = ["the cat sat on the mat", "a dog"], [["the cat is on the mat"], ["a dog runs"]]
    before = fn(hyps, refs, ["", ""])
    assert pickle.loads(pickle.dumps(fn))(hyps, refs, ["", ""]) == before
