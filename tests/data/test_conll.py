"""CoNLL-U and column readers, tag schemes, writing back; errors name the file and line."""

from __future__ import annotations

import gzip
import random

import pytest

from rnnkit.data import DataError
from rnnkit.data.conll import (
    check_scheme,
    read_columns,
    read_conllu,
    read_tagged,
    read_token_lines,
    write_columns,
    write_conllu,
)
from rnnkit.data.datasets import ud_ewt, wnut17
from rnnkit.data.schemes import bioes_to_iob2, check_tags, detect_scheme, iob2_to_bioes, to_iob2

CONLLU = """\
# sent_id = a-1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tthat\tthat\tPRON\tDT\t_\t_\t_\t4:obj\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = a-2
1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_conllu_skips_ranges_and_empty_nodes(tmp_path):
    path = write(tmp_path / "a.conllu", CONLLU)
    first, second = read_conllu(path)
    assert first.tokens == ["I", "do", "n't", "know", "."]
    assert first.tags == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert first.lines == [3, 5, 6, 7, 9]
    assert read_conllu(path, "xpos")[0].tags == ["PRP", "VBP", "RB", "VB", "."]
    assert second.tokens == ["Hi"] and second.lines == [12]


def test_conllu_is_written_back_with_predicted_tags_and_everything_else_kept(tmp_path):
    path = write(tmp_path / "a.conllu", CONLLU)
    sentences = read_conllu(path)
    predicted = [["X", "Y", "Z", "W", "V"], ["U"]]
    write_conllu(tmp_path / "out.conllu", sentences, predicted)
    again = read_conllu(tmp_path / "out.conllu")
    assert [s.tags for s in again] == predicted
    out = (tmp_path / "out.conllu").read_text()
    assert "# text = I don't know." in out and "2-3\tdon't" in out and "4.1\tthat" in out
    assert read_conllu(path, "xpos")[0].tags == read_conllu(tmp_path / "out.conllu", "xpos")[0].tags


def test_gzipped_files_read_like_plain_ones(tmp_path):
    plain = write(tmp_path / "a.conllu", CONLLU)
    packed = tmp_path / "b.conllu.gz"
    packed.write_bytes(gzip.compress(CONLLU.encode()))
    assert [s.tokens for s in read_tagged(packed)] == [s.tokens for s in read_tagged(plain)]


@pytest.mark.parametrize(
    "text, line, message",
    [
        (CONLLU.replace("4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\t_", "4\tknow\tVERB"), 7,
         "3 tab-separated columns, CoNLL-U has 10"),
        (CONLLU.replace("5\t.\t.", "x\t.\t."), 9, "not a valid ID"),
        (CONLLU.replace("1\tHi\thi\tINTJ", "1\tHi\thi\t_"), 12, "no UPOS tag"),
    ],
)  # fmt: skip
def test_malformed_conllu_names_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path / "bad.conllu", text)
    with pytest.raises(DataError, match=rf"bad.conllu: line {line}: .*{message}"):
        read_conllu(path)


def test_a_file_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "latin1.conll"
    path.write_bytes("Paris\tB-LOC\n\nZ\u00fcrich\tB-LOC\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.conll: line 3: not UTF-8"):
        read_columns(path)
    (tmp_path / "empty.conll").write_text("\n \n")
    with pytest.raises(DataError, match="empty.conll: the file is empty"):
        read_columns(tmp_path / "empty.conll")


def test_column_files_whitespace_separators_and_errors(tmp_path):
    # WNUT-17's training file separates some sentences by a line holding only a tab
    path = write(tmp_path / "a.conll", "@me\tO\nParis\tB-location\n\t\nhi\tO\n\n\nyo\tO\n")
    sentences = read_columns(path)
    assert [s.tokens for s in sentences] == [["@me", "Paris"], ["hi"], ["yo"]]
    assert sentences[0].lines == [1, 2] and sentences[2].lines == [7]
    spaced = write(tmp_path / "b.txt", "-DOCSTART- -X- O\n\nEU NNP B-ORG\nrejects VBZ O\n")
    assert read_columns(spaced)[0].tags == ["B-ORG", "O"]
    assert read_columns(spaced, tag_column=1)[0].tags == ["NNP", "VBZ"]
    with pytest.raises(DataError, match=r"c.conll: line 3: 3 columns, expected 2"):
        read_columns(write(tmp_path / "c.conll", "a\tO\n\nb\tO\tx\n"))
    with pytest.raises(DataError, match=r"d.conll: line 1: one column"):
        read_columns(write(tmp_path / "d.conll", "a\nb\n"))
    assert read_columns(tmp_path / "d.conll", require_tags=False)[0].tags is None
    lines = read_token_lines(write(tmp_path / "e.txt", "I saw Paris .\n\nHi\n"))
    assert [s.tokens for s in lines] == [["I", "saw", "Paris", "."], ["Hi"]]


def test_a_tag_outside_the_scheme_names_file_and_line(tmp_path):
    path = write(tmp_path / "a.conll", "a\tO\nb\tB-PER\n\nc\tO\nd\tX-PER\n")
    with pytest.raises(DataError, match=r"a.conll: line 5: tag 'X-PER' is not IOB2"):
        check_scheme(read_columns(path), "iob2")
    path = write(tmp_path / "b.conll", "a\tO\nb\tI-PER\n")
    with pytest.raises(DataError, match=r"b.conll: line 2: 'I-PER' follows O: in IOB2"):
        check_scheme(read_columns(path), "iob2")
    check_scheme(read_columns(path), "iob1")  # IOB1 begins entities with I-
    path = write(tmp_path / "c.conll", "a\tB-PER\nb\tO\n")
    with pytest.raises(DataError, match=r"c.conll: line 2: 'O' follows 'B-PER', an unfinished"):
        check_scheme(read_columns(path), "bioes")


def random_iob2(rng: random.Random, length: int) -> list[str]:
    tags, previous = [], "O"
    for _ in range(length):
        kind = rng.choice(["PER", "LOC"])
        choice = rng.random()
        if choice < 0.4:
            tag = "O"
        elif choice < 0.7 or previous == "O":
            tag = f"B-{kind}"
        else:
            tag = f"I-{previous[2:]}"
        tags.append(tag)
        previous = tag
    return tags


def test_scheme_conversions_round_trip_and_stay_valid():
    rng = random.Random(0)
    for _ in range(300):
        tags = random_iob2(rng, rng.randint(1, 8))
        bioes = iob2_to_bioes(tags)
        check_tags(bioes, "bioes", [f"line {i}" for i in range(len(tags))])  # valid BIOES
        assert bioes_to_iob2(bioes) == tags
        assert to_iob2(tags, "iob2") == tags
    assert iob2_to_bioes(["B-PER", "I-PER", "I-PER", "B-PER", "O", "B-LOC"]) == [
        "B-PER", "I-PER", "E-PER", "S-PER", "O", "S-LOC"
    ]  # fmt: skip
    # IOB1: I- begins an entity unless it continues one of its type; B- splits two adjacent
    assert to_iob2(["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-PER"], "iob1") == [
        "B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-PER"
    ]  # fmt: skip
    assert detect_scheme([["O", "B-X", "I-X"]]) == "iob2"
    assert detect_scheme([["O", "I-X", "I-X"]]) == "iob1"
    assert detect_scheme([["S-X", "O"]]) == "bioes"
    assert detect_scheme([["NOUN", "VERB"]]) == "none"


def test_predictions_are_written_as_columns(tmp_path):
    path = write(tmp_path / "a.conll", "Paris\tB-LOC\nis\tO\n\nhi\tO\n")
    sentences = read_columns(path)
    assert write_columns(tmp_path / "out.conll", sentences, [["B-LOC", "B-PER"], ["O"]]) == 2
    assert (
        tmp_path / "out.conll"
    ).read_text() == "Paris\tB-LOC\tB-LOC\nis\tO\tB-PER\n\nhi\tO\tO\n\n"


def test_the_shared_ud_ewt_and_wnut17_files(shared_datasets):
    ud = ud_ewt.paths(shared_datasets, download=False)
    assert ud["train"].name == "en_ewt-ud-train.conllu.gz"  # kept gzipped there
    dev = read_tagged(ud["validation"])
    assert len(dev) == 2001 and sum(len(s.tokens) for s in dev) == 25147  # words: ranges out
    assert len({t for s in dev for t in s.tags}) == 17
    wn = wnut17.paths(shared_datasets / "wnut17", download=False)
    train = read_tagged(wn["train"])
    assert len(train) == 3394 and sum(len(s.tokens) for s in train) == 62730
    assert detect_scheme([s.tags for s in train]) == "iob2"
    entities = sum(t.startswith("B-") for s in train for t in s.tags)
    assert entities == 1975


def test_a_missing_data_set_says_where_to_put_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"wnut17train.conll is missing.*sha256 731820e1"):
        wnut17.paths(tmp_path, download=False)
