"""seqrl plot: where REINFORCE starts, what the reward axis measures."""
from seqrl.run.plot import reinforce_start, reward_label


def test_reinforce_start_comes_from_the_config_or_the_first_reinforce_row():
    rows = [{"step": s, "mode": "xent"} for s in range(1, 6)] + [{"step": 6, "mode": "reinforce"}]
    assert reinforce_start({"curriculum": {"kind": "warmup", "warmup_steps": 300}}, rows) == 300
    assert reinforce_start({"curriculum": {"kind": "reinforce"}}, rows) == 0
    assert reinforce_start({"curriculum": {"kind": "xent"}}, rows) is None
    assert reinforce_start({"curriculum": {"kind": "alternate"}}, rows) == 5  # after 5 completed steps
    assert reinforce_start({}, rows[:5]) is None


def test_reward_label_names_the_reward_and_the_kl_penalty():
    assert reward_label([{"task": {"name": "reverse", "reward": "task"}}]) == "mean reward: reverse task reward"
    kl = {"task": {"reward": "bleu"}, "reinforce": {"kl_coef": 0.05, "kl_estimator": "k1"}}
    assert reward_label([kl]) == "mean reward: bleu - 0.05 x KL (k1)"
    k3 = {"task": {"reward": "bleu"}, "reinforce": {"kl_coef": 0.05, "kl_estimator": "k3"}}
    assert reward_label([kl, k3]) == "mean reward: bleu - 0.05 x KL (k1); bleu"  # k3 is a loss term
