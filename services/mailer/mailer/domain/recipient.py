"""A member as the mailer knows them, to write to them: made from members'
public events, which come on separate queues, so in any order.

- `members.MemberRegistered` gives the address, and the profile fields (first
  name, commune, federation, themes) as they were at sign-up;
- `members.ProfileUpdated` gives the profile as it now stands: the profile
  fields are taken from whichever of the two is the later in the member's
  stream (`source_version`), so a late sign-up event cannot undo a change;
- `members.EmailVerified` makes them verified, for good.

The address never changes here (members has no event for a new address).
Only public position data is kept: the commune's, from the postcode
(`umpnet_geo`), never the postcode itself.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from umpnet_kernel.aggregate import Aggregate, applies

from ..events import RecipientNoted


@dataclass(frozen=True)
class Profile:
    first_name: str
    lat: float | None
    lon: float | None
    federation_code: str
    themes: tuple[str, ...]
    contact_consent: bool
    display_name: str = ""  # first name and initial: a blog owner's name in the blogs list


class Recipient(Aggregate):
    stream_prefix = "recipient"  # the id is the member's

    def __init__(self, id: str):
        super().__init__(id)
        self.state: RecipientNoted | None = None

    def _note(self, **changes) -> None:
        base = self.state or RecipientNoted(member_id=self.id, email="", first_name="", lat=None, lon=None,
                                            federation_code="", themes=(), contact_consent=False, verified=False,
                                            source_version=0)
        new = replace(base, **changes)
        if new != self.state:
            self._record(new)

    def registered(self, email: str, profile: Profile, source_version: int) -> None:
        self._note(email=email, **self._profile_if_newer(profile, source_version))

    def profile_updated(self, profile: Profile, source_version: int) -> None:
        self._note(**self._profile_if_newer(profile, source_version))

    def verified(self) -> None:
        self._note(verified=True)

    def unsubscribe_announcements(self) -> None:
        """No more meeting announcements, whatever later profiles say (their consent is the party's
        contact in general; this is the member's word about these emails)."""
        self._note(announcements_off=True)

    def unsubscribe_campaigns(self) -> None:
        """No more campaigns nor newsletters, whatever later profiles say."""
        self._note(campaigns_off=True)

    def roles_changed(self, roles: tuple[str, ...], source_version: int) -> None:
        """`members.RolesChanged`: the roles as they now stand (an older event than the one kept changes nothing)."""
        if self.state is not None and self.state.roles_version >= source_version > 0:
            return
        self._note(roles=tuple(roles), roles_version=source_version)

    def _profile_if_newer(self, profile: Profile, source_version: int) -> dict:
        if self.state is not None and self.state.source_version >= source_version > 0:
            return {}
        return {**asdict(profile), "themes": tuple(profile.themes), "source_version": source_version}

    @applies(RecipientNoted)
    def _noted(self, e: RecipientNoted):
        self.state = e
