"""Text reward used by tests through `module:function`: records the references it was given."""
SEEN = {"references": []}


def count_references(completions, references, sources, **columns):
    SEEN["references"].extend(references)
    return [float(len(c.split()) == len(s.split())) for c, s in zip(completions, sources)]


def needs_topic(completions, references, sources, topic=None, **columns):
    """Scores by an extra data field: fails loudly if the field does not arrive."""
    assert topic is not None and len(topic) == len(completions), "the extra field `topic` did not reach the reward"
    SEEN.setdefault("topic", []).extend(topic)
    return [1.0 if t == "animals" else 0.0 for t in topic]


def short_answers(completions, references, sources, **columns):
    """A reference-free reward: 1 for an answer of at most two words."""
    assert references is None or all(r is None for r in references), references
    return [1.0 if 0 < len(c.split()) <= 2 else 0.0 for c in completions]
