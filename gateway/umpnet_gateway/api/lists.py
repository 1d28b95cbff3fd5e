"""What every list of the API shares (API.md §2 "Lists"): `?limit=` (default 50, at most
500) and `?cursor=`, answered as `{"items": [...], "next_cursor": "..." | null}`.

The paging itself is the kernel's (`umpnet_kernel.paging`): a service pages its
read-model query with `paginate` (the gateway's `paged` hands it a checked page),
the gateway pages lists it holds whole (reference data) with `listing`; both hand
out the same opaque cursors.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from umpnet_kernel.errors import DomainError, ValidationFailed
from umpnet_kernel.paging import DEFAULT_LIMIT, MAX_LIMIT, PageRequest, paginate_sequence

# The query parameters of every list, for the OpenAPI document.
LIST_QUERY = {"limit": "integer", "cursor": "string"}
FILTER_MAX = 100  # characters of a filter's value: longer cannot be a status, a slug, a code or a date


def page_request(request, default_limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT) -> PageRequest:
    """The page a request asks for; 400 (`BadLimit`, `BadCursor`: `errors.error_answer` words
    them) for a limit out of 1..max_limit (500 unless a list says more) or a cursor not handed out here."""
    return PageRequest.parse(request.args.get("limit"), request.args.get("cursor"), default_limit, max_limit)


def page_or_first(request, default_limit: int = DEFAULT_LIMIT) -> PageRequest:
    """The page a site's list asks for (its `?cursor=`; the site sends no `?limit=`): a
    stale or mangled cursor, from a bookmark, is the first page rather than an error page."""
    try:
        return PageRequest.parse(None, request.args.get("cursor"), default_limit)
    except DomainError:
        return PageRequest(default_limit)


def list_filters(args, names: Sequence[str], renames: dict[str, str] | None = None) -> dict:
    """A list's filters (the query parameters `names`) as its service takes them: the empty
    ones left out, each under its name or the one `renames` gives it (`{"from": "start"}`);
    400 for a value over `FILTER_MAX` characters."""
    filters = {}
    for name in names:
        value = (args.get(name) or "").strip()
        if len(value) > FILTER_MAX:
            raise ValidationFailed("Filtre invalide.", {name: [f"{FILTER_MAX} caractères au plus."]})
        if value:
            filters[(renames or {}).get(name, name)] = value
    return filters


def paged(services, request, service: str, method: str, *args, default_limit: int = DEFAULT_LIMIT,
          max_limit: int = MAX_LIMIT) -> dict:
    """A list that a service pages itself (its read-model query through `paging.paginate`).

    The page is checked here, so a bad one costs no RPC; the service receives it as
    `limit=` and `cursor=` and answers `Page.as_dict()`, which is the API's list shape.
    """
    page = page_request(request, default_limit, max_limit)
    return services.call(service, method, *args, limit=page.limit, cursor=page.cursor)


def listing(items: Sequence, key: Callable[[Any], Sequence], page: PageRequest) -> dict:
    """One page of a list the gateway holds whole, in its own order; `key(item)` is its unique key."""
    return paginate_sequence(items, key, page).as_dict()
