"""Every URL pattern of the site, as a template its tests fill with malformed values."""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver

PARAMETER = re.compile(r"<(?:\w+:)?\w+>|\(\?P<\w+>(?:[^()]|\([^()]*\))*\)\??")


def url_patterns() -> Iterator[tuple[str, int]]:
    """Each route as a template with "{}" for its parameters, and how many it has."""

    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, int]]:
        for entry in patterns:
            route = str(entry.pattern).replace("^", "").replace("$", "").replace("\\", "")
            if "\x00" in route:
                continue  # the guard against NUL itself
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + route)
            elif isinstance(entry, URLPattern):
                template = PARAMETER.sub("{}", (prefix + route).replace("{", "{{").replace("}", "}}"))
                yield "/" + template.replace("/?", "/"), template.count("{}") - template.count("{{}}")

    return walk(get_resolver().url_patterns, "")
