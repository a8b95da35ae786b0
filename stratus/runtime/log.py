"""Logging set-up: every line carries the request id of the API call it belongs to."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from stratus.runtime.config import Config

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def setup(conf: Config) -> None:
    """Route the ``stratus`` loggers to the configured file or standard error."""
    log_file = conf.get("DEFAULT", "log_file")
    handler: logging.Handler = (
        logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if conf.get("DEFAULT", "debug") else logging.INFO)
    for noisy in ("uvicorn.access", "amqp", "kombu", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
