"""``tenant-operator settings``: every setting, its default and its description.

``--markdown`` prints the README's Configuration table (one row per field, in field order);
``tests/unit/test_settings_doc.py`` keeps the README equal to it. Without it: an env file
template, each setting preceded by its description as a comment. Defaults only: nothing is
read from the environment, so no secret is ever printed.
"""

import argparse
import json
from pathlib import Path

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

from tenant_operator.settings import Settings

ENV_PREFIX = "TENANT_OPERATOR_"
TABLE_HEADER = ("| setting | default | meaning |", "|---------|---------|---------|")


def env_name(name: str, field: FieldInfo) -> str:
    """The variable a setting is documented by: its conventional alias, or the prefixed name."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return ENV_PREFIX + name.upper()


def default_text(field: FieldInfo) -> str | None:
    """The default as it would be written in the environment; None when there is none."""
    value = field.get_default(call_default_factory=True)
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return json.dumps(list(value))
    if isinstance(value, str | int | Path):
        return str(value)
    raise TypeError(f"no text for the default {value!r} of type {type(value).__name__}")


def markdown_table() -> str:
    """The Configuration table of the README, from the settings' descriptions."""
    lines = list(TABLE_HEADER)
    for name, field in Settings.model_fields.items():
        default = default_text(field)
        shown = "none" if default is None else f"`{default}`"
        lines.append(f"| `{env_name(name, field)}` | {shown} | {field.description} |")
    return "\n".join(lines) + "\n"


def env_template() -> str:
    """An env file of every setting at its default, each under its description."""
    blocks = []
    for name, field in Settings.model_fields.items():
        default = default_text(field)
        line = f"{env_name(name, field)}={default or ''}"
        blocks.append(f"# {field.description}\n{'# ' if default is None else ''}{line}")
    return "\n".join(blocks) + "\n"


def cmd_settings(args: argparse.Namespace) -> int:
    """Print every setting with its default and description (--markdown: the README table)."""
    print(markdown_table() if args.markdown else env_template(), end="")
    return 0
