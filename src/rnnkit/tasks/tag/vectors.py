"""``rnnkit tag vectors``: word vectors trained here, on text you have, for ``--model.vectors``.

Skip-gram word2vec with negative sampling (gensim; Mikolov et al. 2013) over a plain text file
(gzipped or not), or one column of a CSV file. Text is cut into tokens the way treebanks and
tweet corpora cut them (:func:`tokenize`: ``don't`` -> ``do n't``, ``it's`` -> ``it 's``,
@handles, #hashtags and URLs kept whole) and lower-cased unless ``--no-lower``, as the tagger
looks words up. The vectors are written in word2vec's text format.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

from rnnkit.data import DataError
from rnnkit.data.conll import read_lines

_TOKEN = re.compile(
    r"https?://\S+|www\.\S+"  # URLs
    r"|[@#]\w+"  # @handles, #hashtags
    r"|\w+(?=n't\b)|n't\b"  # do n't, ca n't
    r"|'(?:s|re|ve|ll|d|m)\b"  # clitics: it 's, we 're
    r"|\w+(?:[-.]\w+|'(?!(?:s|re|ve|ll|d|m)\b)\w+)*"  # words: e-mail, U.S, o'clock
    r"|[^\w\s]",  # any other single character
    re.IGNORECASE,
)
_MARKUP = re.compile(r"<[^>]{0,20}>")  # <br /> and the like


def tokenize(text: str) -> list[str]:
    """Treebank-like tokens of raw text (markup tags dropped)."""
    return _TOKEN.findall(_MARKUP.sub(" ", text))


def documents(path: Path, column: str = "") -> Iterator[str]:
    """The lines of a text file, or the ``column`` cells of a CSV file."""
    if not column:
        yield from read_lines(path)
        return
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8")))
    if column not in (reader.fieldnames or []):
        raise DataError(f"{path}: no column {column!r} (columns: {reader.fieldnames})")
    for row in reader:
        yield row[column]


def train_vectors(
    text: Path,
    out: Path,
    column: str = "",
    size: int = 100,
    window: int = 5,
    min_count: int = 3,
    epochs: int = 5,
    lower: bool = True,
    seed: int = 0,
    threads: int = 1,
) -> str:
    """Train word vectors (skip-gram word2vec) on a text file, for --model.vectors.

    Args:
        text: a UTF-8 text file (.gz too), or a CSV file with --column.
        out: the vector file to write (word2vec text format).
        column: read this column of a CSV file instead of lines.
        size: vector size.
        window: context words on each side.
        min_count: leave out words seen fewer times.
        epochs: passes over the text.
        lower: lower-case the text first (as the tagger's data.lower does).
        seed: the same seed and one thread give the same vectors.
        threads: worker threads.
    """
    from gensim.models import Word2Vec

    started = time.perf_counter()
    sentences = [tokenize(doc.lower() if lower else doc) for doc in documents(Path(text), column)]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise DataError(f"{text}: no text to train vectors on")
    model = Word2Vec(
        sentences,
        vector_size=size,
        window=window,
        min_count=min_count,
        sg=1,
        negative=5,
        epochs=epochs,
        seed=seed,
        workers=threads,
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    model.wv.save_word2vec_format(str(out), binary=False)
    tokens = sum(len(s) for s in sentences)
    return (
        f"wrote {len(model.wv)} vectors of size {size} to {out} ({tokens} tokens, "
        f"{time.perf_counter() - started:.0f} s)"
    )
