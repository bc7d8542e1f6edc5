"""Sort and page parameters of a list, read from the URL and written back into it.

Every list on a page has its own parameters (``sort``, ``desc``, ``page``, with a
prefix when a page holds several lists, e.g. ``users_sort``), so a sorted, paged
view is a URL a colleague can open. The sort key is checked by the use case
against its list's whitelist (``InvalidInput``: a 422 page); the order itself is
done in SQL. Column headers link to the same URL with this list's sort changed
and its page reset, every other parameter kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import Request

from tessera.errors import InvalidInput

MAX_PAGE_NO = 100_000


@dataclass(frozen=True)
class ListSort:
    """One list's sort key, direction and page number, as the URL gives them."""

    path: str
    query: tuple[tuple[str, str], ...]
    prefix: str
    key: str
    desc: bool
    page_no: int
    default_key: str
    default_desc: bool

    def offset(self, per_page: int) -> int:
        return (self.page_no - 1) * per_page

    def _url(self, **changes: str | None) -> str:
        params = {k: v for k, v in self.query}
        for name, value in changes.items():
            if value is None:
                params.pop(self.prefix + name, None)
            else:
                params[self.prefix + name] = value
        return self.path + ("?" + urlencode(params) if params else "")

    def url(self, **params: str | None) -> str:
        """This URL with ``params`` (not prefixed) set, or dropped when None."""
        query = {k: v for k, v in self.query}
        for name, value in params.items():
            if value is None:
                query.pop(name, None)
            else:
                query[name] = value
        return self.path + ("?" + urlencode(query) if query else "")

    def choice(self, key: str, desc: bool, *, reset: tuple[str, ...] = ("offset",)) -> str:
        """This URL sorted by ``key`` in the given direction, from its first page (the
        paging parameters ``reset`` dropped too, for lists paged by offset)."""
        dropped: dict[str, str | None] = {name: None for name in reset}
        dropped[self.prefix + "page"] = None
        return self.url(
            **dropped,
            **{self.prefix + "sort": key, self.prefix + "desc": "true" if desc else "false"},
        )

    def chosen(self, key: str, desc: bool) -> bool:
        return self.key == key and self.desc == desc

    def link(self, key: str) -> str:
        """This URL sorted by ``key`` (the other direction when already sorted by it)."""
        desc = (not self.desc) if key == self.key else False
        return self._url(sort=key, desc="true" if desc else "false", page=None)

    def page_link(self, page_no: int) -> str:
        return self._url(page=str(page_no) if page_no > 1 else None)

    def aria(self, key: str) -> str:
        """``aria-sort`` value for ``key``'s column header ("" when not sorted by it)."""
        if key != self.key:
            return ""
        return "descending" if self.desc else "ascending"


def _flag(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off", ""):
        return False
    raise InvalidInput(f"{name}: true or false, got {value!r}")


def list_sort(
    request: Request, *, prefix: str = "", default: str, default_desc: bool = False
) -> ListSort:
    """The sort of the list whose URL parameters start with ``prefix``."""
    q = request.query_params
    key = q.get(prefix + "sort", default).strip() or default
    if len(key) > 32:
        raise InvalidInput(f"{prefix}sort: at most 32 characters")
    desc = _flag(q[prefix + "desc"], prefix + "desc") if prefix + "desc" in q else default_desc
    raw_page = q.get(prefix + "page", "1").strip() or "1"
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE_NO:
        raise InvalidInput(f"{prefix}page: a number from 1 to {MAX_PAGE_NO}, got {raw_page!r}")
    return ListSort(
        path=request.url.path,
        query=tuple(q.multi_items()),
        prefix=prefix,
        key=key,
        desc=desc,
        page_no=int(raw_page),
        default_key=default,
        default_desc=default_desc,
    )


__all__ = ["ListSort", "list_sort"]
