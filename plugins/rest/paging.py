"""Walking the pages of a list endpoint.

| paging        | next page                                                   | last page when              |
|---------------|-------------------------------------------------------------|-----------------------------|
| (none)        | -                                                           | after the first             |
| next_link     | the URL at a JMESPath in the body (OData v2 ``d.__next``)   | the link is absent or empty |
| link_header   | ``Link: <…>; rel="next"`` (RFC 8288, GitHub style)          | no rel="next"               |
| page          | ``param`` + 1 (and ``size_param=size``)                     | fewer than ``size`` records |
| offset        | ``param`` + records seen (and ``limit_param=limit``)        | fewer than ``limit`` records|
| cursor        | ``param`` = the token at a JMESPath in the body             | the token is absent/empty   |

A next link is followed as given (it carries its own query, e.g. ``$skiptoken`` and the original
``$filter``); a relative link is resolved against the page's URL. A link that was already
followed means the peer is looping: that is reported, never followed forever.
"""

from __future__ import annotations

from typing import Any

import httpx
import jmespath

from runtime.errors import TransientError

from .spec import CursorPaging, LinkHeaderPaging, NextLinkPaging, OffsetPaging, PagePaging

Request = tuple[str, dict[str, Any] | None]  # url, query parameters (None: the URL has them)


class Pager:
    def __init__(self, paging: Any, url: str, params: dict[str, Any]) -> None:
        self.paging = paging
        self.url = url
        self.params = dict(params)
        self._seen: set[str] = set()
        self._next_expr = None
        if isinstance(paging, NextLinkPaging):
            self._next_expr = jmespath.compile(paging.next)
        elif isinstance(paging, CursorPaging):
            self._next_expr = jmespath.compile(paging.cursor)

    def first(self) -> Request:
        params = dict(self.params)
        p = self.paging
        if isinstance(p, PagePaging):
            params[p.param] = p.start
            if p.size_param:
                params[p.size_param] = p.size
        elif isinstance(p, OffsetPaging):
            params[p.param] = 0
            params[p.limit_param] = p.limit
        return self.url, params

    def next(self, current: Request, response: httpx.Response, body: Any, count: int) -> Request | None:
        """The request for the page after ``current``, or None when that was the last."""
        p = self.paging
        url, params = current
        if p is None:
            return None
        if isinstance(p, NextLinkPaging):
            link = self._next_expr.search(body) if body is not None else None
            return self._follow(str(response.request.url), link)
        if isinstance(p, LinkHeaderPaging):
            link = response.links.get("next", {}).get("url")
            return self._follow(str(response.request.url), link)
        if isinstance(p, PagePaging):
            if count < p.size or count == 0:
                return None
            return url, {**(params or {}), p.param: int((params or {})[p.param]) + 1}
        if isinstance(p, OffsetPaging):
            if count < p.limit or count == 0:
                return None
            return url, {**(params or {}), p.param: int((params or {})[p.param]) + count}
        if isinstance(p, CursorPaging):
            token = self._next_expr.search(body) if body is not None else None
            if token in (None, ""):
                return None
            token = str(token)
            if token in self._seen:
                raise TransientError(f"paging of {url} loops: cursor repeated", code="paging")
            self._seen.add(token)
            return url, {**(params or {}), p.param: token}
        raise TypeError(f"unknown paging {p!r}")

    def _follow(self, page_url: str, link: Any) -> Request | None:
        if not link or not isinstance(link, str):
            return None
        link = str(httpx.URL(page_url).join(link))
        if link in self._seen:
            raise TransientError("paging loops: the next link was already followed", code="paging")
        self._seen.add(link)
        return link, None
