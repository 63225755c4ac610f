"""One estimator, three front ends: the graph API's surrogate on a chain of categorical token nodes
gives the sequence trainer's REINFORCE gradient on the same samples."""
from __future__ import annotations

import torch
from torch.distributions import Categorical

from seqrl.estimators.losses import reinforce_loss
from seqrl.estimators.returns import reward_to_go, terminal_rewards
from seqrl.graph import Graph
from seqrl.policies.decoding import output_logits, repeat_state, shift_right, start_tokens
from seqrl.tasks import collate
from seqrl.sources import make_trainer
from seqrl.vocab import specials_of
from tests.conftest import tiny_config


def test_the_graph_surrogate_on_token_nodes_is_the_sequence_reinforce_loss(tmp_path):
    trainer = make_trainer(tiny_config(), tmp_path / "run")
    policy, k = trainer.source.policy, 4
    examples = trainer.source.data.train_batch(0, 6)
    batch = collate(examples, specials_of(trainer.source.task))
    rollout = policy.sample(batch, k, trainer.source.max_len, 1.0, torch.Generator().manual_seed(0))
    tokens, mask = rollout.tokens, rollout.mask  # (N, T)
    reward = torch.randn(tokens.shape[0], generator=torch.Generator().manual_seed(1))  # any sequence reward
    params = [p for p in policy.parameters() if p.requires_grad]

    # the sequence trainer's loss: REINFORCE, no baseline, summed over tokens, mean over sequences
    scored = policy.score(batch, tokens, mask)
    returns = reward_to_go(terminal_rewards(reward, mask), mask, 1.0)
    seq_grads = torch.autograd.grad(reinforce_loss(scored.logprobs, returns, mask, tokens.shape[0]), params)

    # the graph API: one categorical node per token, the cost -reward depending on all of them
    network = policy.network
    state = repeat_state(network.encode(batch.src, batch.src_mask), k)
    logits, _ = network.teacher(state, shift_right(tokens, start_tokens(network, state)))  # (N, T, V)
    logits = output_logits(network, logits)
    g = Graph()
    for t in range(tokens.shape[1]):
        g.sample(f"y{t}", Categorical(logits=logits[:, t]), value=tokens[:, t], mask=mask[:, t])
    g.cost("negative reward", -reward)
    graph_grads = torch.autograd.grad(g.surrogate(), params)
    for a, b in zip(seq_grads, graph_grads):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)
    trainer.release()
