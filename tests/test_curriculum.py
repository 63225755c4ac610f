from seqrl.config.schema import CurriculumConfig, OptimConfig
from seqrl.curriculum import learning_rate, mixer_boundary, plan, reinforce_probability
from seqrl.seeds import alternate_draw as uniform_draw


def test_mixer_boundary_falls_by_delta_every_n_steps_to_zero():
    s = [mixer_boundary(step, full=9, delta=2, every=5) for step in range(0, 60, 5)]
    assert s == [9, 7, 5, 3, 1, 0, 0, 0, 0, 0, 0, 0]
    assert all(mixer_boundary(t, 9, 2, 5) == 9 for t in range(5))


def test_mixer_plan_starts_as_pure_cross_entropy_and_ends_pure_reinforce():
    cfg = CurriculumConfig(kind="mixer", mixer_delta=3, mixer_every=10)
    assert plan(cfg, 0, 0, 9) == (False, 9, 0)
    assert plan(cfg, 10, 0, 9) == (True, 6, 0)
    assert plan(cfg, 1000, 0, 9) == (True, 0, 0)


def test_mixer_anchored_at_the_end_grows_the_sampled_suffix():
    cfg = CurriculumConfig(kind="mixer", mixer_delta=3, mixer_every=10, mixer_anchor="end")
    assert plan(cfg, 0, 0, 9) == (False, 0, 0)  # first stage: cross-entropy only
    assert plan(cfg, 10, 0, 9) == (True, 0, 3)  # REINFORCE on the last 3 tokens of every reference
    assert plan(cfg, 25, 0, 9) == (True, 0, 6)
    assert plan(cfg, 1000, 0, 9) == (True, 0, 0)  # pure REINFORCE


def test_warmup_plan():
    cfg = CurriculumConfig(kind="warmup", warmup_steps=4)
    assert [plan(cfg, t, 0, 5).reinforce for t in range(6)] == [False] * 4 + [True] * 2


def test_alternation_probability_rises_linearly_and_draws_follow_it():
    assert reinforce_probability(3, warmup=5, p0=0.2, span=10) == 0.0
    assert reinforce_probability(5, 5, 0.2, 10) == 0.2
    assert abs(reinforce_probability(10, 5, 0.2, 10) - 0.6) < 1e-12
    assert reinforce_probability(100, 5, 0.2, 10) == 1.0
    cfg = CurriculumConfig(kind="alternate", warmup_steps=0, p0=0.3, span=10**6)
    share = sum(plan(cfg, t, 7, 5).reinforce for t in range(4000)) / 4000
    assert 0.27 < share < 0.33


def test_schedules_are_pure_functions_of_the_step():
    cfg = CurriculumConfig(kind="alternate", warmup_steps=0, p0=0.5, span=100)
    first = [plan(cfg, t, 3, 5) for t in range(50)]
    assert first == [plan(cfg, t, 3, 5) for t in range(50)]
    assert uniform_draw(1, 5) != uniform_draw(2, 5)


def test_learning_rate_schedules():
    cfg = OptimConfig(lr=1.0, rl_lr=0.1, lr_warmup=4, lr_decay="linear", steps=14)
    assert learning_rate(cfg, 0, False) == 0.25
    assert learning_rate(cfg, 4, False) == 1.0
    assert learning_rate(cfg, 9, True) == 0.1 * 0.5
    cos = OptimConfig(lr=1.0, rl_lr=None, lr_decay="cosine", steps=10)
    assert abs(learning_rate(cos, 5, True) - 0.5) < 1e-12
