"""The site's map of activists (French): `/carte`, for logged-in members.

The page is rendered here with the search form and, without JavaScript, the
first page of the search as a list; `static/map.js` (a file: the CSP allows no
inline script) draws it with Leaflet and its marker clustering, which the
gateway serves itself from the xstatic packages under `/static/vendor/` (no CDN).
The script reads the same search from `/carte/membres`, which answers as
`GET /api/map/members` does, for the session cookie instead of a bearer token.

Map tiles: `MAP_TILE_URL` (default OpenStreetMap's tiles; empty: no background,
markers only, and no request leaves for a third party). The page's CSP lets
images come from that one host and nothing else.
"""
from __future__ import annotations

import os
from urllib.parse import urlencode, urlparse

from werkzeug.security import safe_join
from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from umpnet_kernel.errors import DomainError, Unauthorized

from ..api.lists import paged
from ..api.map import DEFAULT_PAGE, DEFAULT_RADIUS_KM, MAX_RADIUS_KM, map_query
from ..errors import error_answer
from ..http import PAGE_SECURITY_HEADERS, api, json_response
from .pages import Page, error_page, form_errors, page

DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
TILES_CREDIT = "© OpenStreetMap"


def _vendor_dirs() -> dict[str, str]:
    import xstatic.pkg.leaflet as leaflet
    import xstatic.pkg.leaflet_markercluster as markercluster

    return {"leaflet": leaflet.BASE_DIR, "leaflet.markercluster": markercluster.BASE_DIR}


VENDOR = _vendor_dirs()
VENDOR_TYPES = {"js": "text/javascript", "css": "text/css", "png": "image/png", "map": "application/json"}


def tile_url() -> str:
    return os.environ.get("MAP_TILE_URL", DEFAULT_TILES).strip()


def map_page_policy(tiles: str) -> str:
    """The page's CSP: the site's own, with images also from the tile server's origin (if any)."""
    origin = ""
    if tiles:
        parts = urlparse(tiles)
        origin = f" {parts.scheme}://{parts.netloc}" if parts.scheme in ("https", "http") and parts.netloc else ""
    return f"default-src 'self'; img-src 'self' data:{origin}; frame-ancestors 'none'"


class MapSite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    @page("GET", "/carte")
    def map_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        args = request.args
        searched = any((args.get(k) or "").strip() for k in ("postcode", "lat", "lon", "federation"))
        form = {"postcode": args.get("postcode", ""), "radius_km": args.get("radius_km", str(DEFAULT_RADIUS_KM))}
        results, errors, status, query = None, None, 200, {}
        wanted = args if searched else {"federation": actor["federation_code"]}
        try:
            query = map_query(wanted)  # an empty radius_km is the default one
            # The first page, drawn by map.js from the page itself (data-first-page): it asks the next ones only.
            results = self.services.call("members", "map_members", query, limit=DEFAULT_PAGE, cursor=None)
        except DomainError as error:
            if error.status >= 429 or not searched:
                raise
            errors, status = form_errors(error), error_answer(error).status
        tiles = tile_url()
        return page.render("map.html", status=status, headers={"Content-Security-Policy": map_page_policy(tiles)},
                           actor=actor, form=form, searched=searched, results=results, errors=errors,
                           query_string=urlencode(query), max_radius=MAX_RADIUS_KM, tiles=tiles, tiles_credit=TILES_CREDIT if tiles else "")

    @api("GET", "/carte/membres")
    def map_data(self, request):
        """What map.js draws: `GET /api/map/members`'s answer (and its errors), for the session cookie."""
        actor, _ = self._visitor(request)
        if actor is None:
            raise Unauthorized("Connectez-vous d’abord.")
        answer = paged(self.services, request, "members", "map_members", map_query(request.args),
                       default_limit=DEFAULT_PAGE)
        return json_response(answer, headers={"Cache-Control": "private, no-store"})

    @page("GET", "/static/vendor/<name>/<path:filename>")
    def vendor_static(self, request, name, filename):
        """Leaflet and Leaflet.markercluster, from their xstatic packages."""
        base = VENDOR.get(name)
        path = safe_join(base, filename) if base else None
        if path is None or not os.path.isfile(path):
            return error_page(404)
        mimetype = VENDOR_TYPES.get(filename.rsplit(".", 1)[-1], "application/octet-stream")
        with open(path, "rb") as f:
            response = Response(f.read(), mimetype=mimetype, headers={"Cache-Control": "public, max-age=86400"})
        for header, value in PAGE_SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response
