"""What every list of the API shares (API.md §2 "Lists"): `?limit=` (default 50, at most
500) and `?cursor=`, answered as `{"items": [...], "next_cursor": "..." | null}`.

The paging itself is the kernel's (`umpnet_kernel.paging`): services page their
read-model queries with `paginate`, the gateway pages lists it holds whole
(reference data) with `paginate_sequence`; both hand out the same opaque cursors.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from umpnet_kernel.errors import ValidationFailed
from umpnet_kernel.paging import MAX_LIMIT, PageRequest, paginate_sequence

# The query parameters of every list, for the OpenAPI document.
LIST_QUERY = {"limit": "integer", "cursor": "string"}


def page_request(request, default_limit: int | None = None) -> PageRequest:
    """The page a request asks for; 400 for a limit out of 1..500 or a cursor not handed out here."""
    args = request.args
    try:
        return PageRequest.parse(args.get("limit"), args.get("cursor"),
                                 **({"default_limit": default_limit} if default_limit else {}))
    except ValidationFailed as refused:
        if "limit" not in refused.fields:
            raise  # a bad cursor: `errors.error_answer` words it
        message = f"Nombre entier de 1 à {MAX_LIMIT} attendu."
        raise ValidationFailed("Paramètre limit invalide.", {"limit": [message]}) from None


def listing(items: Sequence, key: Callable[[Any], Sequence], page: PageRequest) -> dict:
    """One page of a list the gateway holds whole, in its own order; `key(item)` is its unique key."""
    return paginate_sequence(items, key, page).as_dict()
