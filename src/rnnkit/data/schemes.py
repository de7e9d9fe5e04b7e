"""Chunk tag schemes: checking IOB1, IOB2 and BIOES tags, and converting between them.

Entities (chunks) are tagged token by token with a prefix and a type, ``B-PER`` ...:

* IOB2 (BIO): ``B-X`` begins every entity, ``I-X`` continues it, ``O`` is outside. ``I-X``
  follows only ``B-X`` or ``I-X``.
* IOB1: ``I-X`` also begins an entity; ``B-X`` is used only where an entity of type X starts
  right after another one of the same type.
* BIOES: ``S-X`` is a one-token entity; longer ones are ``B-X (I-X)* E-X``.

``none`` is a plain tag set (part of speech): any tag, no prefix structure. Every function takes
``where``, a list of "file: line N" strings (one per tag) used to name the line of a bad tag.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import DataError

SCHEMES = ("none", "iob1", "iob2", "bioes")
_PREFIXES = {"iob1": ("B", "I"), "iob2": ("B", "I"), "bioes": ("B", "I", "E", "S")}
_OPEN = ("B", "I")  # prefixes after which an entity may (IOB) or must (BIOES) go on


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``, ``"O"`` -> ``("O", "")``; anything else -> ``("", tag)``."""
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] == "-":
        return tag[0], tag[2:]
    return "", tag


def detect_scheme(tag_lists: Sequence[Sequence[str]]) -> str:
    """The scheme tags were most likely written in: ``none`` unless every tag is ``O`` or
    ``P-TYPE``; then ``bioes`` when E- or S- tags occur, ``iob1`` when an entity starts with
    I-, else ``iob2``."""
    prefixes = set()
    starts_inside = False
    for tags in tag_lists:
        previous = ("O", "")
        for tag in tags:
            prefix, kind = split_tag(tag)
            if prefix not in ("O", "B", "I", "E", "S"):
                return "none"
            prefixes.add(prefix)
            if prefix == "I" and (previous[0] == "O" or previous[1] != kind):
                starts_inside = True
            previous = (prefix, kind)
    if prefixes <= {"O"}:
        return "none"
    if prefixes & {"E", "S"}:
        return "bioes"
    return "iob1" if starts_inside else "iob2"


def check_tags(tags: Sequence[str], scheme: str, where: Sequence[str]) -> None:
    """Refuse (DataError naming the line) a tag outside ``scheme`` or a sequence it forbids."""
    if scheme == "none":
        return
    allowed = _PREFIXES[scheme]
    previous = ("O", "")
    for i, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        if prefix != "O" and (prefix not in allowed or not kind):
            raise DataError(
                f"{where[i]}: tag {tag!r} is not {scheme.upper()} (expected O or one of "
                f"{', '.join(p + '-TYPE' for p in allowed)}; is the file in another scheme?)"
            )
        inside = previous[0] in _OPEN and previous[1] == kind
        if scheme == "iob2" and prefix == "I" and not inside:
            raise DataError(
                f"{where[i]}: {tag!r} follows {_name(previous)}: in IOB2 an entity begins with B- "
                f"(--data.scheme iob1 reads I- as a beginning)"
            )
        if scheme == "bioes":
            if prefix in ("I", "E") and not inside:
                raise DataError(f"{where[i]}: {tag!r} follows {_name(previous)}: not BIOES")
            if prefix not in ("I", "E") and previous[0] in _OPEN:
                raise DataError(
                    f"{where[i]}: {tag!r} follows {_name(previous)}, an unfinished entity: "
                    f"not BIOES"
                )
        previous = (prefix, kind)
    if scheme == "bioes" and previous[0] in _OPEN and tags:
        raise DataError(
            f"{where[-1]}: the sentence ends inside an entity ({tags[-1]!r}): not BIOES"
        )


def _name(part: tuple[str, str]) -> str:
    return "O" if part[0] == "O" else f"'{part[0]}-{part[1]}'"


def to_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """IOB1, IOB2 or BIOES tags (already checked) as IOB2."""
    if scheme in ("none", "iob2"):
        return list(tags)
    out = []
    previous = ("O", "")
    for tag in tags:
        prefix, kind = split_tag(tag)
        if prefix == "O":
            out.append("O")
        elif scheme == "iob1":
            begins = prefix == "B" or previous[0] == "O" or previous[1] != kind
            out.append(("B-" if begins else "I-") + kind)
        else:  # bioes
            out.append(("B-" if prefix in ("B", "S") else "I-") + kind)
        previous = (prefix, kind)
    return out


def iob2_to_bioes(tags: Sequence[str]) -> list[str]:
    """IOB2 tags as BIOES: the last token of an entity becomes E- (S- when it is alone)."""
    out = []
    for i, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        if prefix == "O":
            out.append("O")
            continue
        following = split_tag(tags[i + 1]) if i + 1 < len(tags) else ("O", "")
        ends = not (following[0] == "I" and following[1] == kind)
        if prefix == "B":
            out.append(("S-" if ends else "B-") + kind)
        else:
            out.append(("E-" if ends else "I-") + kind)
    return out


def bioes_to_iob2(tags: Sequence[str]) -> list[str]:
    """BIOES tags as IOB2 (B-/S- begin, I-/E- continue)."""
    return to_iob2(tags, "bioes")
