"""rnnkit.data.parallel, group_split, subwords and the fra-eng loader."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data import DataError
from rnnkit.data.datasets import fra_eng
from rnnkit.data.datasets.token_pairs import token_pairs
from rnnkit.data.parallel import (
    ParallelText,
    clean_pairs,
    read_aligned,
    read_sentences,
    read_tsv,
    write_tsv,
)
from rnnkit.data.splits import group_split
from rnnkit.data.subwords import EOS, UNK, SubwordTokenizer


def test_reads_pairs_ignoring_extra_columns(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(b"Go.\tVa !\tCC-BY 2.0\r\nI am cold.\tJ'ai froid.\n")
    pairs = read_tsv(path)
    assert pairs.source == ["Go.", "I am cold."] and pairs.target == ["Va !", "J'ai froid."]
    assert pairs.lines == [1, 2]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"Go.\tVa !\n\nHi.\tSalut.\n", "line 2: empty line"),
        (b"Go.\tVa !\nHi. Salut.\n", "line 2: no tab"),
        (b"Go.\tVa !\nCaf\xe9\tCaf\xe9\n", "line 2: not UTF-8 text (invalid byte 0xe9"),
        (b"Go.\tVa !\n \tSalut.\n", "line 2, column 1: the source is empty"),
        (b"Go.\tVa !\nHi.\t\n", "line 2, column 2: the target is empty"),
        (b"", "the file is empty"),
    ],
)
def test_bad_tsv_files_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        read_tsv(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_aligned_files(tmp_path):
    (tmp_path / "s.txt").write_text("Go.\nHi.\n")
    (tmp_path / "t.txt").write_text("Va !\nSalut.\n")
    pairs = read_aligned(tmp_path / "s.txt", tmp_path / "t.txt")
    assert pairs.source == ["Go.", "Hi."] and pairs.target == ["Va !", "Salut."]
    (tmp_path / "t.txt").write_text("Va !\n")
    with pytest.raises(DataError, match="2 lines, but .*t.txt has 1"):
        read_aligned(tmp_path / "s.txt", tmp_path / "t.txt")
    (tmp_path / "t.txt").write_text("Va !\n\n")
    with pytest.raises(DataError, match="t.txt: line 2: empty line"):
        read_sentences(tmp_path / "t.txt")


def test_cleaning_normalises_dedupes_and_drops_long_pairs():
    narrow = "Cours\u202f!"  # narrow no-break space before "!", as in Tatoeba's French
    pairs = ParallelText(
        ["Run!", "Run!", " Run! ", "one two three four", "\ufb01ne"],
        [narrow, "Cours !", "Cours !", "un deux trois quatre", "bien"],
    )
    cleaned, counts = clean_pairs(pairs, "NFKC", dedupe=True, max_words=3)
    assert cleaned.source == ["Run!", "fine"] and cleaned.target == ["Cours !", "bien"]
    assert counts == {"read": 5, "duplicates": 2, "too_long": 1, "kept": 2}
    kept, _ = clean_pairs(pairs, "none", dedupe=False, max_words=0)
    assert kept.source[4] == "\ufb01ne" and len(kept) == 5  # the ligature stays without NFKC


def test_written_pairs_read_back(tmp_path):
    pairs = ParallelText(["a b", "c"], ["x", "y z"])
    write_tsv(tmp_path / "p.tsv", pairs)
    back = read_tsv(tmp_path / "p.tsv")
    assert (back.source, back.target) == (pairs.source, pairs.target)


def test_group_split_keeps_each_group_in_one_part_and_is_seeded():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 300, size=1000).tolist()
    parts = group_split(groups, 40, 0.1, seed=5)
    assert sorted(np.concatenate(parts).tolist()) == list(range(1000))
    members = [{groups[i] for i in p} for p in parts]
    assert not (members[0] & members[1] or members[0] & members[2] or members[1] & members[2])
    assert len(members[1]) == 40 and len(members[2]) == round(0.1 * len(set(groups)))
    again = group_split(groups, 40, 0.1, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    other = group_split(groups, 40, 0.1, seed=6)
    assert not np.array_equal(parts[2], other[2])
    with pytest.raises(ValueError, match="cannot hold"):
        group_split([1, 2, 3], 2, 1, seed=0)


@pytest.mark.parametrize("model", ["bpe", "unigram"])
def test_subwords_round_trip_and_unknown_characters(model):
    pairs = token_pairs("copy", 300, seed=0)
    texts = [*pairs.source, "Hello, l'homme va !", "J'ai froid."] * 3
    tok = SubwordTokenizer.train(texts, 80, model)
    for text in texts[:50] + ["J'ai froid.", "Hello, l'homme va !"]:
        assert tok.decode(tok.encode([text])[0]) == text
    ids = tok.encode(["w01 Ω w02"])[0]
    assert UNK in ids and EOS not in ids
    k = ids.index(UNK)
    assert tok.decode(ids, unknown=lambda position: "Ω" if position == k else "?") == "w01 Ω w02"
    again = SubwordTokenizer.from_str(tok.to_str())
    assert again.encode(texts[:20]) == tok.encode(texts[:20])


def test_fra_eng_loads_every_pair(shared_datasets):
    pairs = fra_eng.load(shared_datasets)
    assert len(pairs) == 142_787
    assert (pairs.source[0], pairs.target[0]) == ("Go.", "Va !")
    assert len(set(pairs.source)) == 98_659
