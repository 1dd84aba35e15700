"""Run configuration: frozen dataclasses whose defaults are the ProtoPool paper's CUB settings.

A YAML file names the sections it changes (``model``, ``data``, ``loss``, ``train``, ``tree``);
the CLI overrides single fields with ``section.field=value``. The resolved configuration is
written beside every checkpoint so that a run can always be rebuilt.

Where the paper and the official code differ, the default follows the paper and the official
behaviour is an option named for what it does (``model.slot_mixing: distances``,
``loss.orthogonality_on: raw_logits``, ``model.test_assignment: argmax``).

This module holds the whole run's :class:`Config` and how it is read and written; the sections
live in :mod:`protopool.config_model` (``model``, ``tree``) and
:mod:`protopool.config_training` (``data``, ``loss``, ``train``), the checks they share in
:mod:`protopool.config_checks`. Every name stays importable from here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from protopool.config_checks import ConfigError
from protopool.config_model import ModelConfig, TreeConfig
from protopool.config_training import DataConfig, LossConfig, TrainConfig


@dataclass(frozen=True)
class Config:
    """A whole run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tree: TreeConfig = field(default_factory=TreeConfig)

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = _plain(dataclasses.asdict(self))
        return plain

    def fingerprint(self) -> str:
        """Stable hash of every resolved field."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_SECTION_TYPES = {
    "model": ModelConfig,
    "data": DataConfig,
    "loss": LossConfig,
    "train": TrainConfig,
    "tree": TreeConfig,
}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _coerce(cls: type, section: str, key: str, value: Any) -> Any:
    """Convert a YAML value to the type of the field's default (YAML reads 5e-4 as a string)."""
    default = next(f for f in fields(cls) if f.name == key).default
    if isinstance(default, bool) or value is None:
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{section}.{key} must be true or false; got {value!r}")
        return value
    try:
        if isinstance(default, float):
            return float(value)
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if isinstance(default, str):
            return str(value)
    except (TypeError, ValueError):
        kind = type(default).__name__
        raise ConfigError(f"{section}.{key} must be a {kind}; got {value!r}") from None
    return value


def config_from_dict(data: dict[str, Any] | None) -> Config:
    """Build a :class:`Config` from nested mappings, rejecting unknown keys."""
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError("a configuration must be a mapping of sections")
    unknown = set(data) - set(_SECTION_TYPES)
    if unknown:
        raise ConfigError(
            f"unknown config section(s) {sorted(unknown)}; use {sorted(_SECTION_TYPES)}"
        )
    sections = {}
    for name, cls in _SECTION_TYPES.items():
        values = data.get(name) or {}
        known = {f.name for f in fields(cls)}
        bad = set(values) - known
        if bad:
            raise ConfigError(
                f"unknown field(s) {sorted(bad)} in section {name!r}; known: {sorted(known)}"
            )
        values = {key: _coerce(cls, name, key, value) for key, value in values.items()}
        try:
            sections[name] = cls(**values)
        except TypeError as exc:
            raise ConfigError(f"section {name!r}: {exc}") from exc
    return Config(**sections)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.field=value`` overrides (values parsed as YAML) to nested mappings."""
    data = {k: dict(v or {}) for k, v in data.items()}
    for item in overrides:
        key, sep, raw = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ConfigError(f"override {item!r} must look like section.field=value")
        data.setdefault(section, {})[name] = yaml.safe_load(raw)
    return data


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or the defaults when ``path`` is None) and apply overrides.

    Raises:
        ConfigError: Missing file, bad YAML, unknown field or invalid value.
    """
    data = (
        {}
        if path is None
        else read_yaml_mapping(path, ConfigError, "config file", "configs/*.yaml")
    )
    return config_from_dict(apply_overrides(data, overrides or []))


def read_yaml_mapping(
    path: str | Path, error: type[ValueError], what: str, examples: str
) -> dict[str, Any]:
    """The mapping a YAML file holds (empty for an empty file).

    Args:
        path: The file.
        error: The exception to raise, with a message naming the file.
        what: What the file is, for the "not found" message ("config file").
        examples: Where to find valid files, for the same message.

    Raises:
        error: A missing file, bad YAML or a document that is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} not found: {path} (see {examples})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise error(f"cannot parse {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{path} must hold a mapping of field: value")
    return data


def config_to_yaml(config: Config) -> str:
    return str(yaml.safe_dump(config.to_dict(), sort_keys=False))


__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "LossConfig",
    "ModelConfig",
    "TrainConfig",
    "TreeConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_yaml",
    "load_config",
    "read_yaml_mapping",
]
