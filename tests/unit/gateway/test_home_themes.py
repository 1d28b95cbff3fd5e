"""The home page's thematic blocks (issue 8, item 2): one block per theme, under the
slugs the other services will tag their content with; a member's own themes first."""
import re

import requests

from members.domain.catalogue import THEMES

SLUGS = [theme.slug for theme in THEMES]


def blocks(page):
    """The slugs of the thematic blocks, in page order, and those marked as followed."""
    slugs = re.findall(r'data-testid="home-theme-([a-z-]+)"', page)
    followed = re.findall(r'data-testid="home-followed-([a-z-]+)"', page)
    return slugs, followed


def test_the_home_page_shows_a_block_per_theme(gateway):
    page = requests.get(gateway.url + "/").text
    assert blocks(page) == (SLUGS, [])
    assert "Santé" in page and 'data-testid="home-themes"' in page


def test_a_member_sees_the_themes_they_follow_first(gateway):
    own = gateway.handlers["get_own_profile"]
    gateway.handlers["get_own_profile"] = lambda member_id: {**own(member_id), "themes": ["europe", "sante"]}
    token, _ = gateway.log_in()
    page = requests.get(gateway.url + "/", cookies={"umpnet_session": token, "umpnet_csrf": "v"}).text
    rest = [slug for slug in SLUGS if slug not in ("sante", "europe")]
    assert blocks(page) == (["sante", "europe", *rest], ["sante", "europe"])  # in the catalogue's order
    # and the anonymous page, kept for everyone, says nothing of that member
    assert blocks(requests.get(gateway.url + "/").text) == (SLUGS, [])
