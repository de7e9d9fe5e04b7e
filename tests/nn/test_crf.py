"""The CRF against brute-force enumeration of every tag sequence (float64, tiny cases).

Oracle: for a sequence of length L over K tags, every one of the K^L tag sequences is scored
by the definition (start + emissions + transitions + end); log Z is the logsumexp of all
scores and Viterbi's answer is the argmax. Tolerance: 1e-10 (float64 throughout).
"""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.nn import CRF, allowed_transitions

TOL = 1e-10


def random_crf(K: int, seed: int, constraints=None) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(K, *(constraints or ())).double()
    with torch.no_grad():  # larger than the initial range, so paths differ clearly
        for p in crf.parameters():
            p.normal_(0.0, 1.0)
    return crf


@torch.no_grad()
def brute_force(crf: CRF, emissions: torch.Tensor, allowed_only: bool = False):
    """(log Z, best score, best path, {path: score}) of one (L, K) sequence by enumeration."""
    L, K = emissions.shape
    A, s, z = crf.transitions, crf.start_transitions, crf.end_transitions
    trans_ok, start_ok, end_ok = (
        ~torch.isinf(crf.transition_mask),
        ~torch.isinf(crf.start_mask),
        ~torch.isinf(crf.end_mask),
    )
    scores = {}
    for path in itertools.product(range(K), repeat=L):
        valid = bool(start_ok[path[0]]) and bool(end_ok[path[-1]])
        valid = valid and all(bool(trans_ok[a, b]) for a, b in zip(path, path[1:]))
        if allowed_only and not valid:
            continue
        score = s[path[0]] + z[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
        score = score + sum(A[a, b] for a, b in zip(path, path[1:]))
        scores[path] = score
    values = torch.stack(list(scores.values()))
    best = max(scores, key=lambda p: float(scores[p]))
    return torch.logsumexp(values, 0), scores[best], list(best), scores


def padded_batch(lengths, K, seed):
    g = torch.Generator().manual_seed(seed)
    T = max(lengths)
    emissions = torch.randn(len(lengths), T, K, generator=g, dtype=torch.float64) * 2
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
    tags = torch.randint(0, K, (len(lengths), T), generator=g)
    return emissions, mask, tags


@pytest.mark.parametrize("K", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1])
@torch.no_grad()
def test_log_likelihood_and_viterbi_equal_brute_force(K, seed):
    crf = random_crf(K, seed)
    lengths = [4, 1, 3, 2]
    emissions, mask, tags = padded_batch(lengths, K, seed + 10)
    log_z = crf.log_partition(emissions, mask)
    log_lik = crf.log_likelihood(emissions, tags, mask)
    paths = crf.decode(emissions, mask)
    for n, L in enumerate(lengths):
        z, best_score, best, scores = brute_force(crf, emissions[n, :L])
        assert abs(float(log_z[n] - z)) < TOL
        gold = tuple(tags[n, :L].tolist())
        assert abs(float(log_lik[n] - (scores[gold] - z))) < TOL
        assert len(paths[n]) == L
        assert abs(float(scores[tuple(paths[n])] - best_score)) < TOL
        assert paths[n] == best  # ties have probability zero with continuous random scores


@torch.no_grad()
def test_forward_is_the_mean_negative_log_likelihood_and_probabilities_sum_to_one():
    crf = random_crf(3, 5)
    emissions, mask, tags = padded_batch([3, 2], 3, 6)
    assert torch.allclose(
        crf(emissions, tags, mask), -crf.log_likelihood(emissions, tags, mask).mean()
    )
    total = torch.logsumexp(
        torch.stack([
            crf.log_likelihood(emissions[:1, :3], torch.tensor([p]), mask[:1, :3])[0]
            for p in itertools.product(range(3), repeat=3)
        ]), 0)  # fmt: skip
    assert abs(float(total)) < TOL  # log of the summed probabilities: 0


def test_gradients_match_finite_differences():
    crf = random_crf(3, 2)
    emissions, mask, tags = padded_batch([3, 2, 1], 3, 3)
    emissions.requires_grad_(True)
    # the CRF's own parameters are passed as inputs: gradcheck perturbs them in place, and the
    # loss reads them from the module, so every parameter's gradient is checked too
    inputs = (emissions, *crf.parameters())
    assert torch.autograd.gradcheck(lambda e, *_: crf(e, tags, mask), inputs, eps=1e-6, atol=1e-7)


def test_gradient_of_log_z_is_the_brute_force_expected_counts():
    """d log Z / d e[t, k] = p(y_t = k); d log Z / d A[i, j] = the expected number of i -> j
    steps; start/end: p(first/last tag = k). Padding gets no gradient."""
    K, lengths = 3, [4, 2, 1]
    crf = random_crf(K, 4)
    emissions, mask, _ = padded_batch(lengths, K, 5)
    emissions.requires_grad_(True)
    crf.log_partition(emissions, mask).sum().backward()
    f64 = torch.float64
    counts_A, counts_s, counts_z = (
        torch.zeros(K, K, dtype=f64),
        torch.zeros(K, dtype=f64),
        torch.zeros(K, dtype=f64),
    )
    for n, L in enumerate(lengths):
        z, _, _, scores = brute_force(crf, emissions[n, :L].detach())
        marginals = torch.zeros(L, K, dtype=torch.float64)
        for path, score in scores.items():
            p = torch.exp(score - z)
            for t, y in enumerate(path):
                marginals[t, y] += p
            for a, b in zip(path, path[1:]):
                counts_A[a, b] += p
            counts_s[path[0]] += p
            counts_z[path[-1]] += p
        assert torch.allclose(emissions.grad[n, :L], marginals, atol=TOL, rtol=0)
        assert bool((emissions.grad[n, L:] == 0).all())
    for parameter, expected in (
        (crf.transitions, counts_A),
        (crf.start_transitions, counts_s),
        (crf.end_transitions, counts_z),
    ):
        assert torch.allclose(parameter.grad, expected, atol=TOL, rtol=0)


IOB2_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
BIOES_TAGS = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]


def valid_iob2(tags: list[str]) -> bool:
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


def valid_bioes(tags: list[str]) -> bool:
    open_type = None  # the type of an entity begun (B-) and not yet ended (E-)
    for tag in tags:
        prefix, kind = tag[0], tag[2:]
        if prefix in "IE" and open_type != kind:
            return False
        if prefix in "BSO" and open_type is not None:
            return False
        open_type = kind if prefix in "BI" else None
    return open_type is None


def test_allowed_transitions_follow_the_schemes():
    trans, start, end = allowed_transitions(IOB2_TAGS, "iob2")
    ids = {t: i for i, t in enumerate(IOB2_TAGS)}
    assert not trans[ids["O"], ids["I-PER"]] and not trans[ids["B-LOC"], ids["I-PER"]]
    assert trans[ids["B-PER"], ids["I-PER"]] and trans[ids["I-PER"], ids["B-PER"]]
    assert start.tolist() == [True, True, False, True, False] and bool(end.all())
    # every sequence the masks allow is valid BIOES, and every valid one is allowed
    trans, start, end = allowed_transitions(BIOES_TAGS, "bioes")
    for path in itertools.product(range(len(BIOES_TAGS)), repeat=3):
        allowed = bool(start[path[0]] and end[path[-1]]) and all(
            bool(trans[a, b]) for a, b in zip(path, path[1:])
        )
        assert allowed == valid_bioes([BIOES_TAGS[i] for i in path]), path
    with pytest.raises(ValueError, match="scheme must be one of"):
        allowed_transitions(IOB2_TAGS, "iob3")


@pytest.mark.parametrize("scheme, tags", [("iob2", IOB2_TAGS), ("bioes", BIOES_TAGS)])
@torch.no_grad()
def test_constrained_crf_equals_brute_force_over_valid_sequences(scheme, tags):
    crf = random_crf(len(tags), 3, allowed_transitions(tags, scheme))
    emissions, mask, _ = padded_batch([3, 1, 2], len(tags), 4)
    log_z = crf.log_partition(emissions, mask)
    paths = crf.decode(emissions, mask)
    for n, L in enumerate([3, 1, 2]):
        z, _, best, _ = brute_force(crf, emissions[n, :L], allowed_only=True)
        assert abs(float(log_z[n] - z)) < TOL
        assert paths[n] == best


def test_constrained_viterbi_never_outputs_an_invalid_sequence():
    # emissions that favour I- tags everywhere: unconstrained Viterbi starts with I-X
    K = len(IOB2_TAGS)
    torch.manual_seed(0)
    emissions = torch.randn(200, 6, K)
    emissions[:, :, [2, 4]] += 3.0
    mask = torch.arange(6)[None, :] < torch.randint(1, 7, (200, 1))
    free = CRF(K).decode(emissions, mask)
    assert not all(valid_iob2([IOB2_TAGS[i] for i in p]) for p in free)
    for scheme, tags, valid in (
        ("iob2", IOB2_TAGS, valid_iob2),
        ("bioes", BIOES_TAGS, valid_bioes),
    ):
        crf = CRF(len(tags), *allowed_transitions(tags, scheme))
        e = torch.randn(200, 6, len(tags)) * 3
        for path in crf.decode(e, mask):
            assert valid([tags[i] for i in path])


def test_a_padded_batch_decodes_like_each_sequence_alone():
    crf = random_crf(4, 7).float()
    lengths = [5, 1, 3, 5, 2]
    emissions, mask, _ = padded_batch(lengths, 4, 8)
    emissions = emissions.float()
    emissions[~mask] = 1e3  # whatever the padding holds must not matter
    together = crf.decode(emissions, mask)
    padded = crf.decode(emissions, mask, pad=-1)
    for n, L in enumerate(lengths):
        alone = crf.decode(emissions[n : n + 1, :L])
        assert together[n] == alone[0]
        assert padded[n, :L].tolist() == alone[0] and bool((padded[n, L:] == -1).all())
        assert torch.allclose(
            crf.log_partition(emissions[n : n + 1, :L]),
            crf.log_partition(emissions, mask)[n : n + 1],
        )


def test_bad_shapes_and_masks_are_refused():
    crf = CRF(3)
    with pytest.raises(ValueError, match=r"emissions must be \(N, T, 3\)"):
        crf.decode(torch.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="at least one real step"):
        crf.decode(torch.zeros(2, 4, 3), torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must be"):
        crf.decode(torch.zeros(2, 4, 3), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="expected shape"):
        CRF(3, torch.ones(2, 2, dtype=torch.bool))
