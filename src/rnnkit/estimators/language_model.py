"""``rnnkit.LanguageModel``: character or word language models from Python text.

::

    lm = rnnkit.LanguageModel(model__hidden_size=256, epochs=5).fit(text)  # str, list or path
    lm.generate("ROMEO:", length=200, temperature=0.8, seed=0)
    lm.perplexity("some other text")

It is the ``lm`` task: the same streams, split, vocabulary, model and run directory as
``rnnkit lm train``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from rnnkit.data.text import Tokenizer, Vocabulary
from rnnkit.train import evaluate_run

from .base import Estimator


class LanguageModel(Estimator):
    """Language model of a text (see the module docstring).

    Args:
        run_dir, verbose, **settings: see :class:`rnnkit.estimators.base.Estimator`.
    """

    task_name = "lm"

    def fit(self, text: str | Path | Sequence[str]) -> LanguageModel:
        """Train on ``text``: a string, a list of strings (joined by newlines) or a file path."""
        folder = self._new_run_dir()
        if isinstance(text, Path):
            files = [str(text)]
        else:
            body = text if isinstance(text, str) else "\n".join(text)
            path = folder / "data" / "corpus.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
            files = [str(path)]
        self._fit_run(self.config(**{"data.files": files}), folder)
        return self

    def generate(
        self,
        prompt: str = "",
        length: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> str:
        """The prompt followed by ``length`` sampled tokens (temperature 0: greedy)."""
        from rnnkit.tasks.lm import generate_text

        run = self.run_
        tokenizer = Tokenizer.from_dict(run.state["tokenizer"])
        vocab = Vocabulary.from_dict(run.state["vocabulary"])
        return generate_text(
            run.model, tokenizer, vocab, prompt, length, temperature, top_k, top_p, seed
        )

    def perplexity(self, text: str) -> float:
        """e ** (mean cross-entropy per token) of ``text`` under the model."""
        run = self.run_
        path = self.path_ / "data" / "score.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        inputs = run.task.read_inputs(path, run.config, run.state)
        metrics, _ = evaluate_run(run, inputs.source, split="input", progress=False)
        return math.exp(min(metrics["loss"], 700.0))
