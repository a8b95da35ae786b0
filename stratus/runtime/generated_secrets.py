"""Random secrets that people paste into command lines."""

import secrets


def typeable_secret(nbytes: int) -> str:
    """A URL-safe random string of ``nbytes`` random bytes that never starts with "-".

    A password or application credential secret is given to the ``openstack`` client
    as the value of an option; one starting with "-" is read as another option there.
    """
    while True:
        secret = secrets.token_urlsafe(nbytes)
        if not secret.startswith("-"):
            return secret
