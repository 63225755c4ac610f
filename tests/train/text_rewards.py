"""Text reward used by tests through `module:function`: records the references it was given."""
SEEN = {"references": []}


def count_references(completions, references, sources, **columns):
    SEEN["references"].extend(references)
    return [float(len(c.split()) == len(s.split())) for c, s in zip(completions, sources)]
