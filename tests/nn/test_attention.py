"""rnnkit.nn.attention: masked weights, the scores' equations (a loop oracle), gradients."""

from __future__ import annotations

import pytest
import torch

from rnnkit.nn import AdditiveAttention, DotAttention, GeneralAttention, make_attention

N, S, T, Q, M, A = 3, 5, 4, 6, 6, 7
LENGTHS = torch.tensor([5, 2, 1])


def _layers():
    return {
        "additive": AdditiveAttention(Q, M, A).double(),
        "dot": DotAttention(),
        "general": GeneralAttention(Q, M).double(),
    }


def _score_oracle(name, layer, q, m):
    """e_s of one query (Q,) against memory (S, M), written from the docstring's equations."""
    out = []
    for s in range(m.shape[0]):
        if name == "additive":
            hidden = torch.tanh(layer.query.weight @ q + layer.memory.weight @ m[s]
                                + layer.memory.bias)  # fmt: skip
            out.append(layer.v.weight[0] @ hidden)
        elif name == "dot":
            out.append(q @ m[s])
        else:
            out.append(q @ layer.weight.weight @ m[s])
    return torch.stack(out)


@pytest.mark.parametrize("name", ["additive", "dot", "general"])
def test_weights_sum_to_one_over_real_steps_and_are_zero_on_padding(name):
    layer = _layers()[name]
    g = torch.Generator().manual_seed(1)
    memory = torch.randn(N, S, M, generator=g, dtype=torch.float64)
    query = torch.randn(N, T, Q, generator=g, dtype=torch.float64)
    mask = torch.arange(S) < LENGTHS[:, None]
    context, weights = layer(query, memory, mask)
    assert weights.shape == (N, T, S) and context.shape == (N, T, M)
    for n, L in enumerate(LENGTHS.tolist()):
        assert torch.all(weights[n, :, L:] == 0)
        torch.testing.assert_close(weights[n, :, :L].sum(-1), torch.ones(T, dtype=torch.float64))
    # padding content cannot leak into the context
    noisy = memory.clone()
    noisy[~mask] = 1e6
    torch.testing.assert_close(layer(query, noisy, mask)[0], context, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["additive", "dot", "general"])
def test_context_matches_the_equations(name):
    layer = _layers()[name]
    g = torch.Generator().manual_seed(2)
    memory = torch.randn(N, S, M, generator=g, dtype=torch.float64)
    query = torch.randn(N, Q, generator=g, dtype=torch.float64)  # one query per row (a step)
    mask = torch.arange(S) < LENGTHS[:, None]
    context, weights = layer(query, memory, mask, keys=layer.keys(memory))
    for n, L in enumerate(LENGTHS.tolist()):
        e = _score_oracle(name, layer, query[n], memory[n, :L])
        a = torch.exp(e - e.max()) / torch.exp(e - e.max()).sum()
        torch.testing.assert_close(weights[n, :L], a, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(context[n], a @ memory[n, :L], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["additive", "general"])
def test_gradients_match_finite_differences(name):
    layer = _layers()[name]
    g = torch.Generator().manual_seed(3)
    memory = torch.randn(2, 3, M, generator=g, dtype=torch.float64, requires_grad=True)
    query = torch.randn(2, 2, Q, generator=g, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    assert torch.autograd.gradcheck(lambda q, m: layer(q, m, mask), (query, memory))


def test_make_attention_checks_its_arguments():
    assert isinstance(make_attention("dot", 8, 8), DotAttention)
    with pytest.raises(ValueError, match="query_size == memory_size"):
        make_attention("dot", 8, 16)
    with pytest.raises(ValueError, match="attention_size"):
        make_attention("additive", 8, 16)
    with pytest.raises(ValueError, match="score must be one of"):
        make_attention("cosine", 8, 8)
