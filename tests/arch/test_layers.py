"""The house's floors: every import goes down (or within a floor), the wings stand beside each
other, and the package has no import circle. A new upward import fails here, naming it."""
from __future__ import annotations

from tests.arch.imports import circles, graph

# Bottom to top. Within a floor, packages may import each other, except on the floors marked as
# wings: a wing never imports another wing.
LAYERS: list[tuple[list[str], bool]] = [
    (["seqrl.seeds", "seqrl.kinds", "seqrl.extras", "seqrl.vocab", "seqrl.rollout", "seqrl.run"], False),
    (["seqrl.estimators"], False),
    (["seqrl.policies", "seqrl.rewards", "seqrl.data", "seqrl.tasks", "seqrl.graph"], False),
    (["seqrl.config", "seqrl.curriculum"], False),
    (["seqrl.train"], False),
    (["seqrl.sequences", "seqrl.envs"], True),  # the wings: each a kind of run
    (["seqrl.sources"], False),
    (["seqrl.cli", "seqrl.__main__", "seqrl"], False),
]


def _place(module: str) -> tuple[int, str]:
    """(floor, package) of a module: the longest declared package it lies in."""
    best = None
    for floor, (packages, _) in enumerate(LAYERS):
        for pkg in packages:
            if (module == pkg or module.startswith(pkg + ".")) and (best is None or len(pkg) > len(best[1])):
                best = (floor, pkg)
    assert best is not None, f"{module} is on no floor: add it to LAYERS"
    return best


def test_every_import_goes_down_and_no_wing_imports_another():
    wrong = []
    for mod, deps in graph().items():
        floor, pkg = _place(mod)
        for dep in deps:
            dep_floor, dep_pkg = _place(dep)
            if dep_floor > floor:
                wrong.append(f"{mod} -> {dep} (upward: floor {floor} imports floor {dep_floor})")
            elif dep_floor == floor and dep_pkg != pkg and LAYERS[floor][1]:
                wrong.append(f"{mod} -> {dep} (one wing imports another)")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_package_has_no_import_circle():
    assert circles(graph()) == []


def test_the_checker_sees_an_upward_import_and_a_circle():
    """The checks can fail: an estimator importing the trainer, and two modules importing each other."""
    edges = {"seqrl.estimators.losses": {"seqrl.train.trainer"}, "seqrl.train.trainer": set()}
    floor, _ = _place("seqrl.estimators.losses")
    assert _place("seqrl.train.trainer")[0] > floor
    assert circles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert circles(edges) == []
