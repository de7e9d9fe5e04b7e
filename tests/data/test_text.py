"""Text reading, tokenizing and the vocabulary: behaviour, round trips and clear errors."""

from __future__ import annotations

import json

import pytest

from rnnkit.data.text import PAD, UNK, Tokenizer, Vocabulary, read_text

SEED_CORPUS = "This is the first sentence.\nThis is the second sentence.\nIs this the third one?\n"


def test_char_tokenizer_round_trips_exactly():
    tok = Tokenizer("char")
    tokens = tok.tokenize(SEED_CORPUS)
    assert tokens[:4] == ["T", "h", "i", "s"] and len(tokens) == len(SEED_CORPUS)
    assert tok.detokenize(tokens) == SEED_CORPUS


def test_word_tokenizer_splits_punctuation_and_keeps_newlines_on_request():
    text = "ROMEO:\nO, she doth teach the torches to burn bright! 'Tis o'er-night.\n"
    words = Tokenizer("word").tokenize(text)
    assert words[:4] == ["ROMEO", ":", "O", ","]
    assert "o'er-night" in words and "\n" not in words
    with_lines = Tokenizer("word", newlines=True).tokenize(text)
    assert with_lines[:3] == ["ROMEO", ":", "\n"] and with_lines[-1] == "\n"
    assert Tokenizer("word", lower=True).tokenize("The THE the") == ["the"] * 3


def test_word_detokenize_reads_naturally():
    tok = Tokenizer("word", newlines=True)
    text = "ROMEO:\nO, she doth (truly) teach!\n"
    assert tok.detokenize(tok.tokenize(text)) == text


def test_tokenizer_rejects_bad_level_and_non_text():
    with pytest.raises(ValueError, match="level must be 'char' or 'word', got 'byte'"):
        Tokenizer("byte")
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        Tokenizer().tokenize(b"abc")
    assert Tokenizer.from_dict(Tokenizer("word", True).to_dict()) == Tokenizer("word", True)


def test_vocabulary_counts_train_only_with_min_freq_and_order():
    train = ["a", "a", "a", "b", "b", "c"]
    vocab = Vocabulary.build(train, min_freq=2)
    assert vocab.tokens == [UNK, "a", "b"]
    assert vocab["a"] == 1 and vocab["c"] == vocab.unk_index == 0
    assert vocab.encode(["b", "zebra", "a"]) == [2, 0, 1]
    assert vocab.decode([1, 2, 0]) == ["a", "b", UNK]
    # ties in alphabetical order, max_size keeps the most frequent
    assert Vocabulary.build(["z", "y", "x", "x"], max_size=2).tokens == [UNK, "x", "y"]
    padded = Vocabulary.build(["b", "a"], specials=(PAD, UNK))
    assert padded.pad_index == 0 and padded.unk_index == 1 and padded.tokens[2:] == ["a", "b"]


def test_vocabulary_strict_and_closed_vocabularies_name_unknown_tokens():
    vocab = Vocabulary.build(["a", "b"])
    with pytest.raises(ValueError, match=r"2 token\(s\) not in the vocabulary of 3: 'x', 'y'"):
        vocab.encode(["a", "x", "y", "x"], strict=True)
    closed = Vocabulary.build(["a", "b"], specials=(), unk=None)
    assert closed.unk_index is None and closed.encode(["b"]) == [1]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        closed.encode(["c"])
    with pytest.raises(KeyError, match="'c' is not in the vocabulary"):
        closed["c"]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        closed.decode([5])


def test_vocabulary_argument_errors():
    with pytest.raises(ValueError, match="min_freq must be an integer >= 1, got 0"):
        Vocabulary.build([], min_freq=0)
    with pytest.raises(ValueError, match="unk must be one of the specials"):
        Vocabulary(["<x>", "a"], specials=["<x>"], unk=UNK)
    with pytest.raises(ValueError, match="duplicates"):
        Vocabulary([UNK, "a", "a"])


def test_vocabulary_json_round_trip_and_bad_files(tmp_path):
    vocab = Vocabulary.build(Tokenizer("char").tokenize("héllo\nwörld"))
    path = vocab.save(tmp_path / "run" / "vocab.json")
    assert Vocabulary.load(path) == vocab
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == "rnnkit.vocabulary"
    assert not list(path.parent.glob(".*tmp"))  # no temporary file left
    (tmp_path / "bad.json").write_text('{"tokens": []}')
    with pytest.raises(ValueError, match=r"bad\.json: cannot read the vocabulary"):
        Vocabulary.load(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match=r"nope\.json: no such vocabulary file"):
        Vocabulary.load(tmp_path / "nope.json")


def test_read_text_joins_files_and_refuses_bad_ones(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"first\r\nline")
    (tmp_path / "b.txt").write_text("second\n", encoding="utf-8")
    assert read_text(tmp_path / "a.txt") == "first\nline"
    assert read_text([tmp_path / "a.txt", tmp_path / "b.txt"]) == "first\nline\nsecond\n"
    (tmp_path / "empty.txt").write_text(" \n")
    with pytest.raises(ValueError, match=r"empty\.txt: the file is empty"):
        read_text(tmp_path / "empty.txt")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match=r"blob\.bin: looks like a binary file"):
        read_text(tmp_path / "blob.bin")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt: not UTF-8 text \(invalid byte 0xe9"):
        read_text(tmp_path / "latin1.txt")
    with pytest.raises(FileNotFoundError, match=r"missing\.txt: no such text file"):
        read_text(tmp_path / "missing.txt")
