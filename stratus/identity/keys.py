"""The Fernet key repository, laid out as Keystone's: one key per file, named by number.

Key ``0`` is the staged key: not used to encrypt yet, but already accepted, so that every
API process knows it before a rotation makes it the primary. The highest number is the
primary key, which encrypts new tokens. The keys in between only decrypt tokens issued
before the last rotations. Rotation promotes the staged key to primary, stages a new
one and drops the oldest keys beyond ``max_active_keys``.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

from stratus.identity import options  # noqa: F401 - declares the [identity] options
from stratus.runtime.config import Config, ConfigError

STAGED = 0


class KeyRepository:
    def __init__(self, path: Path, max_active_keys: int) -> None:
        if max_active_keys < 2:
            raise ConfigError("[identity] max_active_keys must be at least 2")
        self.path = path
        self.max_active_keys = max_active_keys
        self._lock = threading.Lock()
        self._loaded: tuple[tuple[int, ...], MultiFernet] | None = None

    @classmethod
    def from_conf(cls, conf: Config) -> KeyRepository:
        return cls(Path(conf.identity.key_repository), conf.identity.max_active_keys)

    def fernet(self) -> MultiFernet:
        """The keys, primary first: created on first use, re-read after a rotation."""
        with self._lock:
            numbers = self.numbers()
            if len(numbers) < 2:
                with self._exclusive():
                    self._ensure()
                numbers = self.numbers()
            if self._loaded is None or self._loaded[0] != tuple(numbers):
                order = sorted(numbers, key=lambda n: n if n != STAGED else -1, reverse=True)
                keys = [Fernet((self.path / str(n)).read_bytes().strip()) for n in order]
                self._loaded = (tuple(numbers), MultiFernet(keys))
            return self._loaded[1]

    def rotate(self) -> None:
        with self._exclusive():
            self._ensure()
            self._rotate()

    def numbers(self) -> list[int]:
        """The key numbers present, ascending. Every rotation changes them (the new
        primary takes a number never used before), which is how changes are noticed."""
        return sorted(self._files())

    def _files(self) -> dict[int, Path]:
        if not self.path.is_dir():
            return {}
        return {int(p.name): p for p in self.path.iterdir() if p.name.isdigit()}

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise changes between processes (a flock on the directory itself)."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _ensure(self) -> None:
        while len(self._files()) < 2:
            self._rotate()

    def _rotate(self) -> None:
        files = self._files()
        if STAGED in files:
            primary = max(files) + 1
            os.replace(files[STAGED], self.path / str(primary))
        self._write(STAGED, Fernet.generate_key())
        numbers = sorted(self._files())
        for number in numbers[1 : max(1, len(numbers) - self.max_active_keys + 1)]:
            (self.path / str(number)).unlink()

    def _write(self, number: int, key: bytes) -> None:
        temporary = self.path / f".{number}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path / str(number))
