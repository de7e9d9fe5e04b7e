"""A linear-chain conditional random field over tag sequences, vectorised over the batch.

Shapes: N sequences, T steps, K tags. Emissions ``e`` (N, T, K) are the encoder's per-step tag
scores; the CRF adds learned transition scores ``A`` (K, K) (``A[i, j]``: tag i then tag j) and
start/end scores ``s``, ``z`` (K,). For a sequence of length L with tags ``y``::

    score(y) = s[y_1] + sum_{t=1..L} e[t, y_t] + sum_{t=2..L} A[y_{t-1}, y_t] + z[y_L]
    p(y | e) = exp(score(y)) / Z,    log Z = logsumexp over all K^L sequences of score(y)

``log Z`` comes from the forward algorithm (alpha_1 = s + e_1, alpha_t[j] = logsumexp_i
(alpha_{t-1}[i] + A[i, j]) + e_t[j], log Z = logsumexp(alpha_L + z)), the best sequence from
Viterbi (the same recursion with max, then back-pointers), both O(L K^2) per sequence.

Constraints: transitions, starts and ends that a tag scheme forbids (``I-X`` after ``O`` under
IOB2, see :func:`allowed_transitions`) get a score of minus infinity, so no sequence the
scheme forbids has any probability and Viterbi never returns one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

_SCHEMES = ("iob2", "bioes")


def allowed_transitions(tags: Sequence[str], scheme: str) -> tuple[Tensor, Tensor, Tensor]:
    """Which transitions, first tags and last tags a tag scheme allows.

    Args:
        tags: the K tag names, e.g. ``["O", "B-PER", "I-PER"]``. Tags that do not follow the
            scheme's ``P-TYPE`` form (and ``O``) are unconstrained.
        scheme: ``"iob2"`` (``I-X`` only after ``B-X`` or ``I-X``) or ``"bioes"`` (also: ``B-X``
            and ``I-X`` are followed by ``I-X`` or ``E-X``; ``E-X``, ``S-X``, ``O`` by ``B``,
            ``S`` or ``O``).

    Returns:
        ``(transitions (K, K), start (K,), end (K,))`` bool tensors: True where allowed.
    """
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme must be one of {_SCHEMES}, got {scheme!r}")
    parts = [_prefix_and_type(t) for t in tags]
    continuing = ("I",) if scheme == "iob2" else ("I", "E")  # tags that continue an entity
    unfinished = () if scheme == "iob2" else ("B", "I")  # tags after which an entity goes on
    K = len(tags)
    trans = torch.ones(K, K, dtype=torch.bool)
    for i, (pi, ti) in enumerate(parts):
        for j, (pj, tj) in enumerate(parts):
            if pi in unfinished:
                trans[i, j] = pj in continuing and tj == ti
            elif pj in continuing:
                trans[i, j] = pi in ("B", "I") and tj == ti
    start = torch.tensor([p not in continuing for p, _ in parts], dtype=torch.bool)
    end = torch.tensor([p not in unfinished for p, _ in parts], dtype=torch.bool)
    return trans, start, end


def _prefix_and_type(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` and tags of no scheme -> ``(tag, "")``."""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[0], tag[2:]
    return tag, ""


class CRF(nn.Module):
    """Linear-chain CRF: ``CRF(num_tags, allowed=None, allowed_start=None, allowed_end=None)``.

    Args:
        num_tags: K.
        allowed: optional (K, K) bool tensor, True where tag i may be followed by tag j.
        allowed_start, allowed_end: optional (K,) bool tensors, True where a sequence may start /
            end with the tag (see :func:`allowed_transitions`).

    Parameters: ``transitions`` (K, K), ``start_transitions`` (K,), ``end_transitions`` (K,),
    initialised uniformly in [-0.1, 0.1]. The constraints are buffers (0 or -inf) added to them.

    Inputs are batch first: ``emissions`` (N, T, K), ``tags`` (N, T) long, ``mask`` (N, T) bool,
    True on each sequence's real steps, which must come first (right padding) and number at
    least one. ``forward`` returns the mean negative log-likelihood over the batch;
    :meth:`log_likelihood` the per-sequence log-likelihood; :meth:`decode` the Viterbi tags.
    """

    def __init__(
        self,
        num_tags: int,
        allowed: Tensor | None = None,
        allowed_start: Tensor | None = None,
        allowed_end: Tensor | None = None,
    ) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        for name, value, shape in (
            ("transition_mask", allowed, (num_tags, num_tags)),
            ("start_mask", allowed_start, (num_tags,)),
            ("end_mask", allowed_end, (num_tags,)),
        ):
            if value is not None and tuple(value.shape) != shape:
                raise ValueError(f"{name}: expected shape {shape}, got {tuple(value.shape)}")
            ok = torch.ones(shape, dtype=torch.bool) if value is None else value.bool()
            # persistent=False: the constraints follow from the tags, they are not learned
            self.register_buffer(name, torch.zeros(shape).masked_fill(~ok, float("-inf")), False)

    def extra_repr(self) -> str:
        constrained = int(torch.isinf(self.transition_mask).sum())
        return f"num_tags={self.num_tags}, forbidden_transitions={constrained}"

    def _scores(self) -> tuple[Tensor, Tensor, Tensor]:
        return (
            self.transitions + self.transition_mask,
            self.start_transitions + self.start_mask,
            self.end_transitions + self.end_mask,
        )

    def _check(self, emissions: Tensor, mask: Tensor | None) -> Tensor:
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(
                f"emissions must be (N, T, {self.num_tags}), got {tuple(emissions.shape)}"
            )
        N, T, _ = emissions.shape
        if mask is None:
            return torch.ones(N, T, dtype=torch.bool, device=emissions.device)
        if tuple(mask.shape) != (N, T):
            raise ValueError(f"mask must be (N, T) = {(N, T)}, got {tuple(mask.shape)}")
        if T and not bool(mask[:, 0].all()):
            raise ValueError("mask: every sequence needs at least one real step, first")
        return mask.bool()

    def log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """log p(tags | emissions) of each sequence: (N,)."""
        mask = self._check(emissions, mask)
        return self._gold_score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def forward(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """The mean negative log-likelihood over the batch (a scalar to minimise)."""
        return -self.log_likelihood(emissions, tags, mask).mean()

    def _gold_score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        trans, start, end = self._scores()
        tags = tags.long().masked_fill(~mask, 0)  # padding may hold anything
        m = mask.to(emissions.dtype)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (N, T)
        score = start[tags[:, 0]] + (emitted * m).sum(1)
        if tags.shape[1] > 1:
            moved = trans[tags[:, :-1], tags[:, 1:]]  # (N, T-1)
            # a forbidden gold transition is -inf; it only counts where the step is real
            score = score + torch.where(mask[:, 1:], moved, torch.zeros_like(moved)).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)  # (N,)
        return score + end[last]

    def log_partition(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """log Z of each sequence by the forward algorithm: (N,)."""
        mask = self._check(emissions, mask)
        trans, start, end = self._scores()
        alpha = start + emissions[:, 0]  # (N, K)
        for t in range(1, emissions.shape[1]):
            # (N, K, 1) + (K, K) -> logsumexp over the previous tag i -> (N, K)
            step = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    @torch.no_grad()
    def decode(
        self, emissions: Tensor, mask: Tensor | None = None, pad: int | None = None
    ) -> list[list[int]] | Tensor:
        """The most probable tag sequence of each item (Viterbi).

        Returns a list of N lists of tag ids (each as long as its sequence), or, when ``pad``
        is given, an (N, T) long tensor with ``pad`` past each sequence's end.
        """
        mask = self._check(emissions, mask)
        N, T, K = emissions.shape
        trans, start, end = self._scores()
        score = start + emissions[:, 0]  # (N, K)
        pointers = []
        for t in range(1, T):
            best, index = (score.unsqueeze(2) + trans).max(dim=1)  # over the previous tag
            pointers.append(index)  # (N, K): the best previous tag of each tag at step t
            score = torch.where(mask[:, t].unsqueeze(1), best + emissions[:, t], score)
        lengths = mask.sum(1)
        current = (score + end).argmax(dim=1)  # (N,) the last real step's tag
        out = torch.full((N, T), -1 if pad is None else pad, dtype=torch.long,
                         device=emissions.device)  # fmt: skip
        for t in range(T - 1, -1, -1):
            real = t < lengths
            out[:, t] = torch.where(real, current, out[:, t])
            if t:  # step back only inside each sequence; before its end `current` waits
                previous = pointers[t - 1].gather(1, current.unsqueeze(1)).squeeze(1)
                current = torch.where(real, previous, current)
        if pad is not None:
            return out
        return [row[:n].tolist() for row, n in zip(out, lengths.tolist())]
