"""One INI config file for every part, with options declared where they are used.

Each module that needs settings declares them with :func:`register`; the registry is also
what ``stratus config sample`` renders, so the documented options and defaults can never
drift from the code. String values may refer to other options of ``[DEFAULT]`` as
``{data_dir}``, ``{my_ip}`` or ``{host}``, and to any option as ``{section.option}``.
"""

from __future__ import annotations

import configparser
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_FILE = Path("/etc/stratus/stratus.conf")
CONFIG_ENV = "STRATUS_CONFIG"


@dataclass(frozen=True)
class Opt:
    """One option: its name, type, default and a one-line help text."""

    name: str
    default: Any
    help: str
    type: type = str
    choices: tuple[str, ...] = field(default=())

    def parse(self, raw: str) -> Any:
        if self.type is bool:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"option {self.name}: {raw!r} is not a boolean")
        if self.type is list:
            return [item.strip() for item in raw.split(",") if item.strip()]
        try:
            value = self.type(raw)
        except ValueError as exc:
            raise ConfigError(f"option {self.name}: {raw!r} is not a {self.type.__name__}") from exc
        if self.choices and value not in self.choices:
            raise ConfigError(
                f"option {self.name}: {raw!r} is not one of {', '.join(self.choices)}"
            )
        return value


class ConfigError(Exception):
    """The config file or an option value is wrong."""


_REGISTRY: dict[str, dict[str, Opt]] = {}


def register(section: str, *opts: Opt) -> None:
    """Declare options of a section; declaring the same option twice is an error."""
    options = _REGISTRY.setdefault(section, {})
    for opt in opts:
        if opt.name in options and options[opt.name] != opt:
            raise ConfigError(f"option [{section}] {opt.name} declared twice")
        options[opt.name] = opt


def registry() -> dict[str, dict[str, Opt]]:
    return _REGISTRY


register(
    "DEFAULT",
    Opt("data_dir", "/var/lib/stratus", "Where databases, keys, images and state live."),
    Opt("host", socket.gethostname(), "This host's name, as agents report it."),
    Opt("my_ip", "127.0.0.1", "The address other hosts and clients reach this host at."),
    Opt("bind_host", "0.0.0.0", "The address the API servers listen on."),
    Opt("region_name", "RegionOne", "The region this cloud's endpoints are listed under."),
    Opt(
        "transport_url",
        "memory://",
        "Message bus: memory:// (in-process, one process only) or amqp://user:pass@host:5672/.",
    ),
    Opt("debug", False, "Log at DEBUG level.", bool),
    Opt("log_file", "", "Log to this file instead of standard error."),
)
register(
    "database",
    Opt(
        "connection",
        "",
        "SQLAlchemy URL shared by every service (postgresql+psycopg://..., "
        "mysql+pymysql://...). Empty: one SQLite file per service under data_dir.",
    ),
)


class Section:
    """Attribute access to one section's typed values."""

    def __init__(self, conf: Config, name: str) -> None:
        self._conf = conf
        self._name = name

    def __getattr__(self, item: str) -> Any:
        return self._conf.get(self._name, item)


class Config:
    """Typed view of the config file layered over the registered defaults."""

    def __init__(
        self, path: Path | None = None, overrides: dict[str, dict[str, Any]] | None = None
    ):
        self.path = path
        self._parser = configparser.ConfigParser(interpolation=None)
        if path is not None:
            files = [path, *sorted(path.with_name(path.name + ".d").glob("*.conf"))]
            for file in files:
                if file.exists():
                    try:
                        self._parser.read(file)
                    except configparser.Error as exc:
                        raise ConfigError(f"{file}: {exc}") from exc
        self._overrides = overrides or {}

    def get(self, section: str, name: str) -> Any:
        opt = _REGISTRY.get(section, {}).get(name)
        if opt is None:
            raise ConfigError(f"no option [{section}] {name} is declared")
        if name in self._overrides.get(section, {}):
            value = self._overrides[section][name]
        elif section == "DEFAULT" and name in self._parser.defaults():
            value = opt.parse(self._parser.defaults()[name])
        elif (
            section != "DEFAULT"
            and self._parser.has_section(section)
            and self._parser.has_option(section, name)
        ):
            value = opt.parse(self._parser.get(section, name))
        else:
            value = opt.default
        if isinstance(value, str) and "{" in value:
            value = value.format_map(_Placeholders(self))
        return value

    def __getattr__(self, section: str) -> Section:
        if section.startswith("_"):
            raise AttributeError(section)
        return Section(self, section)

    @property
    def data_dir(self) -> Path:
        return Path(self.get("DEFAULT", "data_dir"))


class _Placeholders(dict):
    def __init__(self, conf: Config) -> None:
        super().__init__()
        self._conf = conf

    def __missing__(self, key: str) -> Any:
        if key in _REGISTRY and key != "DEFAULT":
            return Section(self._conf, key)  # "{identity.port}" reads [identity] port
        return self._conf.get("DEFAULT", key)


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the config named by argument, by $STRATUS_CONFIG, or the default path."""
    chosen = path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE
    return Config(Path(chosen))


def sample() -> str:
    """Render every declared option with its help and default, as a commented config file."""
    lines: list[str] = []
    sections = ["DEFAULT", *sorted(s for s in _REGISTRY if s != "DEFAULT")]
    for section in sections:
        lines.append(f"[{section}]")
        for opt in _REGISTRY[section].values():
            lines.append(f"# {opt.help}")
            if opt.choices:
                lines.append(f"# One of: {', '.join(opt.choices)}")
            lines.append(f"#{opt.name} = {_render(opt)}")
            lines.append("")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _render(opt: Opt) -> str:
    if opt.name == "host":
        return "<this host's name>"
    if isinstance(opt.default, bool):
        return str(opt.default).lower()
    if isinstance(opt.default, list):
        return ",".join(opt.default)
    return str(opt.default)
