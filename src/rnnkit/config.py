"""Typed configuration: frozen dataclasses with documented fields, YAML files and dotted flags.

A task's configuration is a frozen dataclass of *sections* (``data``, ``model``, ``optim``,
``train``, ...), each itself a frozen dataclass of :class:`Section` whose fields are declared
with :func:`option`. Defaults live in code; a YAML file, then ``--section.key value`` flags,
override them::

    config = resolve(ClassifyConfig, yaml_file="my.yaml", flags={"optim.lr": "3e-3"})

Every value is checked on construction (type, choices, range). Unknown keys fail with the
closest valid name (``unknown key 'optim.l' — did you mean 'optim.lr'?``) and every error names
where the value came from (``my.yaml:4`` or ``--optim.lr``). Nothing is ever ``eval``-ed.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

C = TypeVar("C")


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names the key and its source."""


def option(
    default: Any,
    doc: str,
    *,
    choices: tuple[Any, ...] | None = None,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> Any:
    """Declare one documented setting of a :class:`Section`.

    Args:
        default: the value used when neither a YAML file nor a flag sets it.
        doc: one line shown in ``--help`` and as a comment in ``rnnkit TASK config``.
        choices: the allowed values (``Literal`` types give them automatically).
        low, high: inclusive bounds for numbers (``low_open=True`` makes ``low`` exclusive).
    """
    metadata = {"doc": doc, "choices": choices, "low": low, "high": high, "low_open": low_open}
    if isinstance(default, (list, dict, set)):
        raise TypeError("option defaults must be immutable (use a tuple)")
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Section:
    """Base of every configuration section: checks each field's type and range on construction."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            checked = _coerce(value, hints[f.name], f.name, source=None)
            _check_range(checked, f, f.name, source=None)
            if checked is not value:
                object.__setattr__(self, f.name, checked)


# ------------------------------------------------------------------------------ describing configs
@dataclass(frozen=True)
class Setting:
    """One leaf setting of a configuration class, as ``--help`` and ``config`` show it."""

    key: str  # dotted: "optim.lr"
    type: Any
    default: Any
    doc: str
    choices: tuple[Any, ...] | None

    @property
    def metavar(self) -> str:
        """A short name of the expected value: INT, FLOAT, BOOL, TEXT, {a|b}, INT,..."""
        if self.choices:
            return "{" + "|".join(str(c) for c in self.choices) + "}"
        return _type_name(self.type).upper()


def settings(cls: type) -> list[Setting]:
    """Every leaf setting of configuration class ``cls``, in declaration order."""
    return _settings(cls, None)


def _settings(cls: type, instance: Any) -> list[Setting]:
    """Settings of ``cls``, with defaults read from ``instance`` when given (a task may give a
    section other defaults than the section class's own)."""
    out: list[Setting] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        t = hints[f.name]
        default = getattr(instance, f.name) if instance is not None else _default(f)
        if _is_section(t):
            for s in _settings(t, default):
                out.append(dataclasses.replace(s, key=f"{f.name}.{s.key}"))
        else:
            choices = f.metadata.get("choices") or _literal_choices(t)
            out.append(Setting(f.name, t, default, f.metadata.get("doc", ""), choices))
    return out


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def section_docs(cls: type) -> dict[str, str]:
    """The first docstring line of each section of ``cls``: ``{"optim": "Optimiser, ..."}``."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: (hints[f.name].__doc__ or "").strip().splitlines()[0]
        for f in dataclasses.fields(cls)
        if _is_section(hints[f.name]) and hints[f.name].__doc__
    }


# ---------------------------------------------------------------------------------- conversion
def to_dict(config: Any) -> dict[str, Any]:
    """A nested dict of plain JSON values (tuples become lists)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def to_yaml(config: Any) -> str:
    """YAML of ``config`` with each field's doc as a comment; ``--config`` reads it back."""
    cls = type(config)
    lines = []
    if cls.__doc__:
        lines += [f"# {line}".rstrip() for line in cls.__doc__.strip().splitlines()[:1]]
    docs = section_docs(cls)
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            lines += ["", f"{f.name}:  # {docs.get(f.name, '')}".rstrip(" #")]
            for g in dataclasses.fields(value):
                lines.append(f"  # {g.metadata.get('doc', '')}")
                lines.append(f"  {g.name}: {_yaml_scalar(getattr(value, g.name))}")
        else:
            lines.append(f"# {f.metadata.get('doc', '')}")
            lines.append(f"{f.name}: {_yaml_scalar(value)}")
    return "\n".join(lines) + "\n"


def save_json(config: Any, path: str | Path) -> None:
    """Write the resolved configuration as JSON (what a run directory keeps)."""
    Path(path).write_text(json.dumps(to_dict(config), indent=2) + "\n")


def from_dict(cls: type[C], data: Mapping[str, Any], source: str = "<dict>") -> C:
    """Build ``cls`` from a nested mapping (e.g. a saved ``config.json``), strictly."""
    flat = {key: (value, source) for key, value in flatten(data)}
    return build(cls, flat)


def resolve(
    cls: type[C],
    yaml_file: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    base: Mapping[str, Any] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> C:
    """Defaults, then ``base`` (a saved config), then a YAML file, then flags (last wins).

    Args:
        cls: the task's configuration class.
        yaml_file: a YAML file of nested sections (``optim: {lr: 0.01}``).
        flags: dotted keys to raw values (strings from the command line are parsed per type).
        base: a nested dict, e.g. a run's saved ``config.json`` when resuming.
        aliases: short names accepted for dotted keys, e.g. ``{"dataset": "data.dataset"}``.
    """
    values: dict[str, tuple[Any, str]] = {}
    if base is not None:
        values.update({k: (v, "config.json") for k, v in flatten(base)})
    if yaml_file is not None:
        values.update(read_yaml(yaml_file))
    for key, value in (flags or {}).items():
        values[(aliases or {}).get(key, key)] = (value, f"--{key}")
    return build(cls, values, aliases=aliases)


def build(
    cls: type[C],
    values: Mapping[str, tuple[Any, str]],
    aliases: Mapping[str, str] | None = None,
) -> C:
    """Construct ``cls`` from dotted keys mapped to (value, source) pairs over its defaults."""
    known = {s.key: s for s in settings(cls)}
    for key, (_, source) in values.items():
        if key not in known:
            where = "" if source.startswith("--") else f"{source}: "
            raise ConfigError(where + unknown_key_message(key, [*known, *(aliases or {})]))
    nested: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, (value, source) in values.items():
        setting = known[key]
        checked = _coerce(value, setting.type, key, source)
        section, _, name = key.rpartition(".")
        cls_field = _field_of(cls, key)
        _check_range(checked, cls_field, key, source)
        (nested.setdefault(section, {}) if section else top)[name] = checked
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = dict(top)
    for f in dataclasses.fields(cls):
        if _is_section(hints[f.name]):
            default = _default(f)
            if default is None:
                kwargs[f.name] = _construct(hints[f.name], nested.get(f.name, {}), f.name)
            else:  # the task's own defaults for this section, then the overrides
                kwargs[f.name] = _replace(default, nested.get(f.name, {}), f.name)
    return _construct(cls, kwargs, "")


def unknown_key_message(key: str, valid: list[str], what: str = "key") -> str:
    """``unknown key 'optim.l' — did you mean 'optim.lr'?``, or what the valid names are.

    ``what`` names the kind of name (``key``, ``task``, ``preset``...); for dotted keys the
    fallback lists the sections, for other names the valid names themselves.
    """
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if not close and what == "key":  # try the last part alone: "--lr" -> "optim.lr"
        tails = {v.rpartition(".")[2]: v for v in valid}
        hit = difflib.get_close_matches(key.rpartition(".")[2], list(tails), n=1, cutoff=0.75)
        close = [tails[hit[0]]] if hit else []
    if close:
        return f"unknown {what} '{key}' — did you mean '{close[0]}'?"
    if what == "key":
        sections = sorted({v.partition(".")[0] for v in valid if "." in v})
        return f"unknown key '{key}' (valid sections: {', '.join(sections)})"
    return f"unknown {what} '{key}' (choose from: {', '.join(valid) or 'none'})"


def read_yaml(path: str | Path) -> dict[str, tuple[Any, str]]:
    """Dotted keys of a YAML file mapped to (value, "file:line"); only plain values, no tags."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError, ValueError) as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if node is None:
        return {}
    out: dict[str, tuple[Any, str]] = {}
    _walk_yaml(node, "", path, out)
    return out


def parse_flags(args: list[str]) -> dict[str, str]:
    """``["--optim.lr", "3e-3", "--model.dropout=0.1"]`` -> ``{"optim.lr": "3e-3", ...}``."""
    flags: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise ConfigError(
                f"unexpected argument {arg!r}: settings are given as --section.key VALUE"
            )
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args):
                raise ConfigError(f"--{key}: missing value")
            value = args[i + 1]
            i += 1
        flags[key] = value
        i += 1
    return flags


# ------------------------------------------------------------------------------------ internals
def _construct(cls: type, kwargs: dict[str, Any], where: str) -> Any:
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:  # a section's own cross-field check
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}{e}") from None


def _replace(instance: Any, changes: dict[str, Any], where: str) -> Any:
    try:
        return dataclasses.replace(instance, **changes)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


def _field_of(cls: type, key: str) -> dataclasses.Field:
    hints = typing.get_type_hints(cls)
    head, _, rest = key.partition(".")
    f = next(f for f in dataclasses.fields(cls) if f.name == head)
    return _field_of(hints[head], rest) if rest else f


def _is_section(t: Any) -> bool:
    return isinstance(t, type) and dataclasses.is_dataclass(t)


def _literal_choices(t: Any) -> tuple[Any, ...] | None:
    return tuple(typing.get_args(t)) if typing.get_origin(t) is Literal else None


def _optional_inner(t: Any) -> Any | None:
    """X for ``X | None`` / ``Optional[X]``, else None."""
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(t)) == 2:
            return args[0]
    return None


def _type_name(t: Any) -> str:
    inner = _optional_inner(t)
    if inner is not None:
        return _type_name(inner)
    if typing.get_origin(t) is tuple:
        return f"{_type_name(typing.get_args(t)[0])},..."
    if typing.get_origin(t) is Literal:
        return "choice"
    return {int: "int", float: "float", bool: "bool", str: "text"}.get(
        t, getattr(t, "__name__", "value")
    )


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _coerce(value: Any, t: Any, key: str, source: str | None) -> Any:
    """Check ``value`` against annotation ``t``, parsing strings from the command line."""
    where = _where(key, source)

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{where}: expected {expected}, got {value!r}")

    inner = _optional_inner(t)
    if inner is not None:
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            return None
        return _coerce(value, inner, key, source)
    choices = _literal_choices(t)
    if choices is not None:
        for c in choices:
            if value == c or (isinstance(value, str) and str(c) == value):
                return c
        raise fail("one of " + ", ".join(repr(c) for c in choices))
    if t is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise fail("true or false")
    if t is int:
        if isinstance(value, bool):
            raise fail("an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise fail("an integer") from None
        raise fail("an integer")
    if t is float:
        if isinstance(value, bool):
            raise fail("a number")
        if isinstance(value, (int, float)):
            result = float(value)
        elif isinstance(value, str):
            try:
                result = float(value)
            except ValueError:
                raise fail("a number") from None
        else:
            raise fail("a number")
        if not math.isfinite(result):
            raise fail("a finite number")
        return result
    if t is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise fail("text")
    if typing.get_origin(t) is tuple:
        item_type = typing.get_args(t)[0]
        if isinstance(value, str):
            items = [v.strip() for v in value.strip("()[] ").split(",") if v.strip()]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            raise fail(f"a list of {_type_name(item_type)}")
        return tuple(_coerce(v, item_type, key, source) for v in items)
    return value


def _where(key: str, source: str | None) -> str:
    """How an error names a value: ``--optim.lr``, ``my.yaml:3: optim.lr``, ``optim.lr``, or
    ``optim__lr`` (a Python keyword argument)."""
    if source is None or source in (f"--{key}", python_name(key)):
        return source or key
    return f"{source}: {key}"


def python_name(key: str) -> str:
    """A dotted key as a Python keyword argument: ``optim.lr`` -> ``optim__lr``."""
    return key.replace(".", "__")


def _check_range(value: Any, f: dataclasses.Field, key: str, source: str | None) -> None:
    where = _where(key, source)
    meta = f.metadata
    if meta.get("choices") and value not in meta["choices"]:
        options = ", ".join(repr(c) for c in meta["choices"])
        raise ConfigError(f"{where}: expected one of {options}, got {value!r}")
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        low, high = meta.get("low"), meta.get("high")
        if low is not None and (v <= low if meta.get("low_open") else v < low):
            bound = f"> {low}" if meta.get("low_open") else f">= {low}"
            raise ConfigError(f"{where}: must be {bound}, got {v!r}")
        if high is not None and v > high:
            raise ConfigError(f"{where}: must be <= {high}, got {v!r}")


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``{"optim": {"lr": 1}}`` -> ``("optim.lr", 1)`` pairs."""
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _walk_yaml(node: yaml.Node, prefix: str, path: Path, out: dict[str, tuple[Any, str]]) -> None:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            if not isinstance(key_node, yaml.ScalarNode) or not isinstance(key, str):
                raise ConfigError(f"{path}:{key_node.start_mark.line + 1}: keys must be names")
            _walk_yaml(value_node, f"{prefix}{key}.", path, out)
        return
    if not prefix:
        raise ConfigError(f"{path}:{line}: a config file must be a mapping of sections")
    try:  # plain values only: a tag such as !!python/object is refused here
        value = yaml.safe_load(yaml.serialize(node))
    except yaml.YAMLError as e:
        raise ConfigError(
            f"{path}:{line}: {prefix[:-1]}: not a plain value ({e.__class__.__name__})"
        ) from None
    out[prefix[:-1]] = (value, f"{path}:{line}")


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()
