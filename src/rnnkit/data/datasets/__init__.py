"""One loader module per public data set; each keeps its source, licence and checksums.

* :mod:`.digits` — scikit-learn's 8x8 digits (built in, no download).
* :mod:`.mnist` — MNIST and any MNIST-format IDX folder (downloaded with checksums).
* :mod:`.fsdd` — the Free Spoken Digit Dataset (a local tar of its recordings).
* :mod:`.ett` — ETT-small (ETTh1/h2/m1/m2) and the Informer split (downloaded with checksums).
* :mod:`.tinyshakespeare` — char-rnn's Shakespeare text (downloaded with checksums).
* :mod:`.nab` — the Numenta Anomaly Benchmark corpus and its labels.
* :mod:`.imdb` — the Large Movie Review Dataset, official 25k/25k split (archive checksummed).
* :mod:`.fra_eng` — Tatoeba English-French sentence pairs (the Anki archive, checksummed).
* :mod:`.token_pairs` — random token sequences copied or reversed, from a seed (no file).

Every loader takes a data directory: the one given (``--data-dir``), else ``$RNNKIT_DATA``, else
``~/.cache/rnnkit`` (see :mod:`rnnkit.data.fetch`).
"""
