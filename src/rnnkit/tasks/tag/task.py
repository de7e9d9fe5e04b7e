"""``tag``: a tag per token (part of speech, named entities) from a BiLSTM with a CRF.

Data (:mod:`.data`): ``--dataset ud-ewt`` (UD English-EWT, UPOS or XPOS), ``--dataset wnut17``
(WNUT-17 entities, IOB2), or ``--data.train/validation/test`` files (CoNLL-U or token/tag
columns; IOB1, IOB2 and BIOES read and converted). Vocabularies come from the training split.

Model (:mod:`.model`): word embeddings and character features -> bidirectional ``rnnkit.nn``
encoder -> emission scores -> a linear-chain CRF (constrained to the scheme) or a softmax.

Metrics (:mod:`.metrics`): token accuracy, accuracy on words unseen in training, and for chunk
tags entity precision/recall/F1 (seqeval, strict IOB2) overall and per type; the most frequent
tag confusions. Predictions are written as CoNLL (:mod:`rnnkit.data.conll`).

Step outputs hold real tokens only, flattened over the batch (``predicted``, ``gold``,
``unknown``: (M,)) beside the sentence ``lengths`` (N,), so batches of different widths
concatenate; :func:`sentences_of` cuts them back into sentences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from rnnkit.data import DataError, length_mask
from rnnkit.data.conll import write_columns, write_conllu
from rnnkit.data.vectors import read_vectors
from rnnkit.train import Context, Inputs, Step, Task, TaskData

from .config import PRESETS, TagConfig
from .data import encode, from_model_tags, load_splits, read_input
from .metrics import tag_metrics
from .model import UNK_ID, Tagger, build_tagger
from .vectors import train_vectors


class TagTask(Task[TagConfig]):
    """Sequence labelling: part-of-speech tagging and named-entity recognition."""

    name = "tag"
    config_class = TagConfig
    maximize = frozenset({"accuracy", "unknown_accuracy", "precision", "recall", "f1"})
    headline = ("loss", "accuracy", "f1")
    aliases = {"dataset": "data.dataset", "data-dir": "data.data_dir"}
    presets = PRESETS
    search_space = {
        "optim.lr": {"low": 5e-4, "high": 5e-3, "log": True},
        "model.hidden_size": [100, 200, 300],
        "model.dropout": {"low": 0.2, "high": 0.6},
    }

    def load_data(self, config: TagConfig) -> TaskData:
        vector_words: list[str] = []
        if config.model.vectors:  # their words join the vocabulary: unseen in training, known
            size, found = read_vectors(config.model.vectors)
            vector_words = list(found)
        sentences, state = load_splits(config.data, vector_words)
        if vector_words:
            state.update(vector_size=size, vectors=len(vector_words))
        batches = {k: None if v is None else encode(v, state) for k, v in sentences.items()}
        return TaskData(
            batches["train"],
            batches["validation"],
            batches["test"],
            state=state,
            extra={"sentences": sentences},
        )

    def build_model(self, config: TagConfig, state: Mapping[str, Any]) -> nn.Module:
        return build_tagger(config.model, state)

    def step(self, model: Tagger, batch: dict[str, Tensor], state: Any = None) -> Step:
        if "tags" not in batch:
            raise DataError("the sentences have no tags to score (predict tags untagged files)")
        lengths = batch["lengths"]
        mask = length_mask(lengths, batch["words"].shape[1])
        emissions = model(batch["words"], batch["chars"], lengths)
        loss = model.loss(emissions, batch["tags"], mask)
        outputs = {}
        if not model.training:  # decoding is for evaluation; training needs the loss only
            outputs = {
                "predicted": model.decode(emissions, mask)[mask],
                "gold": batch["tags"][mask],
                "unknown": batch["words"][mask] == UNK_ID,
                "lengths": lengths,
            }
        return Step(loss, outputs, weight=float(mask.sum()))

    def metrics(self, outputs: dict[str, Tensor], ctx: Context) -> dict[str, Any]:
        gold = sentences_of(outputs["gold"], outputs["lengths"], ctx.state)
        predicted = sentences_of(outputs["predicted"], outputs["lengths"], ctx.state)
        chunked = ctx.state["encoding"] != "none"
        return tag_metrics(gold, predicted, chunked, outputs["unknown"].tolist())

    def report(self, outputs: dict[str, Tensor], metrics: dict[str, Any], ctx: Context) -> None:
        if ctx.split == "train" or ctx.run_dir is None or ctx.data is None:
            return
        sentences = ctx.data.extra["sentences"][ctx.split]
        predicted = sentences_of(outputs["predicted"], outputs["lengths"], ctx.state)
        gold = sentences_of(outputs["gold"], outputs["lengths"], ctx.state)
        # the tags as scored (IOB2 for entities), beside the tokens as read
        write_columns(ctx.run_dir / f"predictions_{ctx.split}.conll", sentences, predicted, gold)

    def predict(self, model: Tagger, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        lengths = batch["lengths"]
        mask = length_mask(lengths, batch["words"].shape[1])
        emissions = model(batch["words"], batch["chars"], lengths)
        return {"tags": model.decode(emissions, mask)[mask], "lengths": lengths}

    def read_inputs(self, path: Path, config: TagConfig, state: Mapping[str, Any]) -> Inputs:
        sentences = read_input(path, state)
        return Inputs(encode(sentences, state), info={"sentences": sentences})

    def write_predictions(
        self, path: Path, predictions: dict[str, Tensor], inputs: Inputs, ctx: Context
    ) -> int:
        sentences = inputs.info["sentences"]
        tags = sentences_of(predictions["tags"], predictions["lengths"], ctx.state)
        if sentences and sentences[0].conllu is not None:
            return write_conllu(path, sentences, tags, ctx.state["field"])
        return write_columns(path, sentences, tags)


def sentences_of(ids: Tensor, lengths: Tensor, state: Mapping[str, Any]) -> list[list[str]]:
    """Flat tag ids (M,) cut into sentences of ``lengths``, as tag names (IOB2 for chunks)."""
    names: Sequence[str] = state["tags"]
    flat = [names[i] for i in ids.tolist()]
    out, start = [], 0
    for n in lengths.tolist():
        out.append(from_model_tags(flat[start : start + n], state))
        start += n
    return out


TagTask.commands = {"vectors": train_vectors}
TASK = TagTask()
