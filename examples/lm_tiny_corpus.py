"""A word-level language model on a tiny corpus — the classic tutorial example, working.

The published versions of this example no longer run: the Keras one builds its vocabulary with
``keras.preprocessing.text.Tokenizer``, which Keras 3 removed, and the torchtext one uses
``torchtext.data.Field`` / ``BPTTIterator``, which torchtext dropped in 0.12 (and torchtext
itself stopped at 0.18, built for torch 2.3). Here the same steps use rnnkit's one tokenizer and
vocabulary, the ``lm`` task and the shared training engine:

    python examples/lm_tiny_corpus.py            # about 10-20 s on 2 CPU cores

It prints the vocabulary, the training perplexity, and the text the model writes after
"This is the".
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from rnnkit.config import resolve
from rnnkit.data.text import Tokenizer, Vocabulary
from rnnkit.tasks.lm import TASK, LMConfig, generate_from_run
from rnnkit.train import fit

CORPUS = """This is the first sentence.
This is the second sentence.
This is the third sentence, and it is longer.
Is this the last sentence?
No, this is the last sentence.
"""


def main() -> None:
    torch.manual_seed(0)
    tokenizer = Tokenizer("word", lower=False, newlines=True)
    vocab = Vocabulary.build(tokenizer.tokenize(CORPUS))
    print(f"{len(vocab)} tokens: {vocab.tokens}")
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.txt"
        corpus.write_text(CORPUS, encoding="utf-8")
        config = resolve(
            LMConfig,
            flags={
                "data.files": str(corpus),
                "data.level": "word",
                "data.val_fraction": "0",  # too little text to hold any out: watch train loss
                "data.test_fraction": "0",
                "data.seq_len": "8",
                "model.embedding_size": "32",
                "model.hidden_size": "32",
                "model.num_layers": "1",
                "model.dropout": "0",
                "model.tie_weights": "true",
                "optim.lr": "0.02",
                "optim.schedule": "none",
                "train.batch_size": "2",
                "train.epochs": "40",
                "train.early_stopping": "0",
                "train.eval_train": "true",  # report the training perplexity below
                "train.progress": "false",
            },
        )
        result = fit(TASK, config, Path(folder) / "run")
        print(f"training perplexity: {result.metrics['train']['perplexity']:.2f}")
        print(generate_from_run(result.run_dir, "This is the", length=20, temperature=0))


if __name__ == "__main__":
    main()
