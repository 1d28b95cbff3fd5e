"""The JSON API of the activists' blogs (API.md "Mailer"), kept by the mailer service.

    POST /api/blogs    a member -> 201 (400 not an absolute http(s) address, 409 registered already)
    GET  /api/blogs    anyone: ?order=activity|recent&limit (default 50, up to 1500: the
                       newsletter's list in one page, as API.md shows)&cursor
"""
from __future__ import annotations

from mailer import limits

from .. import campaign_schemas as schemas
from ..auth import require_actor
from ..http import api, json_body, json_response
from ..openapi import documented
from .lists import list_filters, paged

class BlogsApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    @api("POST", "/api/blogs")
    @documented("Register my blog and its feed (one registration per address): its activity is read "
                "from the feed in the background", body=schemas.BlogRequest, responses={201: schemas.Blog},
                auth=True)
    def register_blog(self, request):
        require_actor(self.services, request)
        data = json_body(request, schemas.BlogRequest)
        return json_response(self.services.call("mailer", "register_blog", data), 201)

    @api("GET", "/api/blogs")
    @documented("The members' blogs, most active first (order=activity) or newest (order=recent)",
                responses={200: schemas.BlogList}, query={"order": "string"})
    def blogs(self, request):
        order = list_filters(request.args, ("order",)).get("order") or "activity"
        return json_response(paged(self.services, request, "mailer", "list_blogs", order,
                                   max_limit=limits.BLOGS_LIST_MAX))
