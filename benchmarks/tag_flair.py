"""flair's SequenceTagger (BiLSTM-CRF) on prepared column files: the peer of ``tag.py``.

Runs inside a separate environment that has flair (and no rnnkit): ``tag.py`` writes the data
as ``token TAB tag`` files and calls this script with that environment's Python. Embeddings are
trained from scratch on the training split, nothing is downloaded: ``OneHotEmbeddings`` (a
learned word embedding over the training vocabulary) stacked with ``CharacterEmbeddings`` (a
character BiLSTM, its character dictionary built from the training split), optionally with
fixed word vectors from a file (``--vectors``, word2vec text format). flair's own training loop
(SGD, learning rate 0.1 halved on plateau, batch 32) runs for ``--epochs``; the best epoch on
dev is scored on test with seqeval (strict IOB2) for entities, token accuracy for tags, and
flair's own evaluation of the same model is kept beside it (``flair_main_score``) as a check.

    python tag_flair.py --data DIR --tag ner --epochs 20 --seed 0 --out RESULT.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import flair
import torch
from flair.data import Dictionary
from flair.datasets import ColumnCorpus
from flair.embeddings import (
    CharacterEmbeddings,
    OneHotEmbeddings,
    StackedEmbeddings,
    WordEmbeddings,
)
from flair.models import SequenceTagger
from flair.trainers import ModelTrainer


def iob2_of(sentence, label: str) -> list[str]:
    """A flair sentence's spans labelled ``label`` as IOB2 tags, one per token."""
    tags = ["O"] * len(sentence)
    for span in sentence.get_spans(label):
        kind = span.get_label(label).value
        for i, token in enumerate(span.tokens):
            tags[token.idx - 1] = ("B-" if i == 0 else "I-") + kind
    return tags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="train.txt, dev.txt, test.txt")
    parser.add_argument("--tag", choices=["ner", "upos"], required=True)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--vectors", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    flair.set_seed(args.seed)
    corpus = ColumnCorpus(
        args.data,
        {0: "text", 1: args.tag},
        train_file="train.txt",
        dev_file="dev.txt",
        test_file="test.txt",
    )
    labels = corpus.make_label_dictionary(args.tag, add_unk=False)
    chars = Dictionary()
    for sentence in corpus.train:
        for token in sentence:
            for c in token.text:
                chars.add_item(c)
    stack = [
        OneHotEmbeddings.from_corpus(corpus, min_freq=1, embedding_length=100),
        CharacterEmbeddings(path_to_char_dict=chars),
    ]
    if args.vectors is not None:
        stack.insert(0, WordEmbeddings(str(args.vectors)))
    tagger = SequenceTagger(
        hidden_size=args.hidden,
        embeddings=StackedEmbeddings(stack),
        tag_dictionary=labels,
        tag_type=args.tag,
        use_crf=True,
    )
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        ModelTrainer(tagger, corpus).train(
            work,
            learning_rate=0.1,
            mini_batch_size=32,
            max_epochs=args.epochs,
            embeddings_storage_mode="none",
            create_file_logs=False,
            create_loss_file=False,
            save_final_model=False,
        )
        train_s = time.perf_counter() - started
        best = Path(work) / "best-model.pt"
        if best.is_file():  # its weights into this model, as flair's trainer does for its test:
            # a SequenceTagger.load()ed copy, with equal weights and dictionaries, scored lower
            tagger.load_state_dict(SequenceTagger.load(best).state_dict())
    test = list(corpus.test)
    # flair's own score of the same model, to check the re-scoring below against
    own = tagger.evaluate(test, gold_label_type=args.tag, mini_batch_size=64)
    # under a label name of their own: predicted under the gold's name, a token carries both
    tagger.predict(test, mini_batch_size=64, label_name="predicted")
    gold = read_tags(args.data / "test.txt")
    if args.tag == "ner":
        predicted = [iob2_of(s, "predicted") for s in test]
    else:
        predicted = [[t.get_label("predicted").value for t in s] for s in test]
    assert [len(g) for g in gold] == [len(p) for p in predicted], "test sentences differ"
    result = {
        "tool": f"flair {flair.__version__}",
        "tag": args.tag,
        "seed": args.seed,
        "epochs": args.epochs,
        "train_s": round(train_s, 1),
        "s_per_epoch": round(train_s / args.epochs, 1),
        "parameters": sum(p.numel() for p in tagger.parameters()),
        "flair_main_score": own.main_score,  # flair's micro F1 (token accuracy for tags)
        "accuracy": sum(a == b for g, p in zip(gold, predicted) for a, b in zip(g, p))
        / sum(len(g) for g in gold),
    }
    if args.tag == "ner":
        from seqeval.metrics import f1_score, precision_score, recall_score
        from seqeval.scheme import IOB2

        strict = {"mode": "strict", "scheme": IOB2}
        result.update(
            precision=precision_score(gold, predicted, **strict),
            recall=recall_score(gold, predicted, **strict),
            f1=f1_score(gold, predicted, **strict),
        )
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


def read_tags(path: Path) -> list[list[str]]:
    """The tag column of a ``token TAB tag`` file, per sentence."""
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            current.append(line.split("\t")[1])
        elif current:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


if __name__ == "__main__":
    main()
