"""MkDocs hook: show Sphinx roles in docstrings (:meth:`close`) as plain code (`close`).

The docstrings use reST roles, which mkdocstrings does not translate; without this hook the
API reference would print the ``:meth:`` prefixes literally, and a ``~`` target
(:class:`~ghmodels_async.ratelimit.RateLimiter`) would keep its tilde and full path
instead of showing the last name, as Sphinx does.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:meth|class|func|data|attr|mod|exc|obj):(<code>)")
_TILDE = re.compile(r"<code>~(?:[\w]+\.)*([\w]+)</code>")


def on_page_content(html: str, **kwargs: Any) -> str:
    """Drop the role prefix in front of the rendered inline code, and shorten ``~a.b.C``
    to ``C``."""
    return _TILDE.sub(r"<code>\1</code>", _ROLE.sub(r"\1", html))
