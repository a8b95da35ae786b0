"""HTTP clients for the calls services make to each other's APIs."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def new_client(timeout: float) -> httpx.Client:
    """A client on the process's one TLS context: a context per client would load the CA
    bundle again each time (about 1 MB resident per client)."""
    return httpx.Client(timeout=timeout, verify=_tls_context())
