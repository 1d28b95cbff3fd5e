"""A sign-up reaches the gateway's kept federation counts through the members service's own events."""
import pytest
import requests

from ..conftest import wait_until

pytestmark = pytest.mark.integration


def count_in(platform, code: str) -> int:
    federations = requests.get(platform.url + "/api/federations").json()["items"]
    return next(f["member_count"] for f in federations if f["code"] == code)


def test_a_sign_up_refreshes_the_kept_counts_of_the_home_page_and_the_api(platform):
    assert count_in(platform, "69") == 0 and count_in(platform, "69") == 0  # the second read is the kept one
    home = requests.get(platform.url + "/")
    etag = home.headers["ETag"]
    assert requests.get(platform.url + "/", headers={"If-None-Match": etag}).status_code == 304

    answer = requests.post(platform.url + "/api/members", json={
        "email": "camille@example.org", "password": "Correct-horse-9", "postcode": "69003"})
    assert answer.status_code == 202

    # members.MemberRegistered, published by the outbox relay, makes every gateway forget the counts.
    wait_until(lambda: count_in(platform, "69") == 1, timeout=10)
    assert requests.get(platform.url + "/", headers={"If-None-Match": etag}).status_code == 200
