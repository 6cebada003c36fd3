"""Database URLs that are safe to print.

SQLAlchemy's ``render_as_string(hide_password=True)`` masks the password of
the userinfo only, but libpq and most drivers also take secrets as query
parameters (``?password=...``, ``?sslpassword=...``, API tokens), which would
then reach the log of every command, a ``FAILED:`` line, or the SQL file a
DBA is sent. Every URL this package prints goes through :func:`safe_url`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import quote
from urllib.parse import quote_plus

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

MASK = "***"
# Survives percent-encoding unchanged, unlike "***" in a query value.
_PLACEHOLDER = "MASKEDBYALEMBICFLASKENV"
#: Shorter secrets are not scrubbed from free text: replacing every "ab" in
#: a driver's message would garble it more than it protects.
_SHORTEST_SCRUBBED = 4

#: Query parameter names that hold a secret: exact names, then fragments.
_SECRET_NAMES = frozenset({"password", "passwd", "pwd", "pass", "sslpassword"})
#: (The patterns of this module are compiled on first use, by ``re``'s own
#: cache: most runs mask nothing, and compiling them cost every run 1 ms.)
_SECRET_FRAGMENT = r"password|passwd|secret|token|key|credential"


def is_secret_parameter(name: str) -> bool:
    """Whether a URL query parameter of this name holds a secret."""
    return name.lower() in _SECRET_NAMES or bool(
        re.search(_SECRET_FRAGMENT, name, re.IGNORECASE)
    )


def safe_url(url: URL) -> str:
    """``url`` as text, with its password and every secret query value
    replaced by ``***``. A host with an ``@`` in it is the tail of a
    password that was not percent-encoded (``user:pa@ss@host``): then
    everything before the last ``@`` is masked, user name included.
    """
    if is_malformed(url):
        assert url.host is not None
        # (URL.set() would take password=None as "unchanged".)
        url = url.create(
            url.drivername,
            username=_PLACEHOLDER,
            host=url.host.rpartition("@")[2],
            port=url.port,
            database=url.database,
            query=url.query,
        )
    rendered = masked_url(url, _PLACEHOLDER).render_as_string(hide_password=True)
    return rendered.replace(_PLACEHOLDER, MASK)


def is_malformed(url: URL) -> bool:
    """Whether the URL's host holds an ``@``: its password had one that was
    not written ``%40``, and the rest of it was read as the host.
    """
    return "@" in (url.host or "")


def masked_text(text: str) -> str:
    """A URL that could not be parsed, as text: everything between ``://``
    and the last ``@`` masked, and every secret query value too.
    """
    scheme, separator, rest = text.partition("://")
    if not separator:
        return MASK
    _, at, location = rest.rpartition("@")
    location = re.sub(
        r"([?&])([^=&]+)=([^&]*)",
        lambda m: (
            m.group(0)
            if not is_secret_parameter(m.group(2))
            else f"{m.group(1)}{m.group(2)}={MASK}"
        ),
        location,
    )
    return f"{scheme}://{MASK + '@' if at else ''}{location}"


def masked_url(url: URL, mask: str = MASK) -> URL:
    """``url`` with every secret query value replaced by ``mask`` (the
    userinfo password stays: SQLAlchemy masks that one when rendering).
    """
    secret = {name: mask for name in url.query if is_secret_parameter(name)}
    return url.update_query_dict(secret) if secret else url


def secrets_of(url: URL) -> Iterator[str]:
    """Every secret in ``url``, raw and percent-encoded, longest first, so a
    driver's message that echoes the connection string can be scrubbed.
    """
    values: list[str] = [url.password or ""] if url.password else []
    for name, value in url.query.items():
        if is_secret_parameter(name):
            values += [value] if isinstance(value, str) else list(value)
    forms = {
        form
        for value in values
        if len(value) >= _SHORTEST_SCRUBBED
        for form in (value, quote_plus(value), quote(value, safe=""))
    }
    yield from sorted(forms, key=len, reverse=True)


def scrub(text: str, url: URL) -> str:
    """``text`` with every secret of ``url`` replaced by ``***``."""
    for secret in secrets_of(url):
        text = text.replace(secret, MASK)
    return text


#: The userinfo of any URL in free text, "scheme://user:password@", masked
#: whole as :func:`masked_text` masks it: up to the last "@" of the word, as
#: a password with an unencoded "@" has two.
_URL_USERINFO = r"(?P<start>\b[a-z][\w+.-]*://)[^\s/]*@"
#: A value after "name=" (a URL's query, a libpq keyword string, a DSN):
#: quoted as libpq quotes it, or up to a separator.
_KEYWORD_VALUE = (
    r"(?P<name>\b[a-z_][\w.-]*)(?P<equals>\s*=\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;,)'\"]+)"
)
#: A quoted key and value, as a dict or JSON shows them: 'password': 'x'.
_QUOTED_ITEM = (
    r"(?P<name>(?P<quote>['\"])[a-z_][\w.-]*(?P=quote))(?P<equals>\s*:\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
)


def mask_secrets(text: str, *urls: URL | None) -> str:
    """``text`` that quotes something we do not control (a driver's error,
    the user's exception, a parser's message) with every secret masked:
    those of ``urls`` wherever they appear, the userinfo of any URL in it,
    and the value of every secret ``name=value`` (a query string, a libpq
    keyword string ``password=secret``, a DSN) or ``'name': 'value'``.
    Every message and log line that quotes foreign text goes through this.
    """
    for url in urls:
        if url is not None:
            text = scrub(text, url)
    text = re.sub(_URL_USERINFO, rf"\g<start>{MASK}@", text, flags=re.IGNORECASE)
    for pattern in (_KEYWORD_VALUE, _QUOTED_ITEM):
        text = re.sub(pattern, _masked_value, text, flags=re.IGNORECASE)
    return text


def _masked_value(match: re.Match[str]) -> str:
    name = match.group("name").strip("'\"")
    if not is_secret_parameter(name):
        return match.group(0)
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('name')}{match.group('equals')}{quote}{MASK}{quote}"
