"""A campaign: drafted by an admin, sent once, then done.

draft --send--> sending --(every email queued, none pending)--> sent

Sending twice is refused (`Conflict`): the 202 of the first request is the
promise, a second one would have nothing to add (and a client that retries
after a lost answer can read the status instead).
"""
from __future__ import annotations

from umpnet_kernel.aggregate import Aggregate, applies
from umpnet_kernel.errors import Conflict

from ..events import CampaignCreated, CampaignQueued, CampaignSendRequested, CampaignSent

DRAFT, SENDING, SENT = "draft", "sending", "sent"


class Campaign(Aggregate):
    stream_prefix = "campaign"

    def __init__(self, id: str):
        super().__init__(id)
        self.status = "new"
        self.author_id: str | None = None
        self.queued = False

    @classmethod
    def draft(cls, campaign_id: str, author_id: str, author_federation: str | None, subject: str,
              body_markdown: str, segment: dict, recipient_count: int) -> "Campaign":
        campaign = cls(campaign_id)
        campaign._record(CampaignCreated(campaign_id=campaign_id, author_id=author_id,
                                         author_federation=author_federation, subject_line=subject,
                                         body_markdown=body_markdown, segment=dict(segment),
                                         recipient_count=recipient_count))
        return campaign

    def request_send(self) -> None:
        if self.status != DRAFT:
            raise Conflict("Cette campagne est déjà envoyée ou en cours d'envoi.")
        self._record(CampaignSendRequested(campaign_id=self.id))

    def all_queued(self, total: int) -> None:
        if self.status == SENDING and not self.queued:
            self._record(CampaignQueued(campaign_id=self.id, total=total))

    def finished(self, sent: int, failed: int) -> None:
        if self.status == SENDING and self.queued:
            self._record(CampaignSent(campaign_id=self.id, sent=sent, failed=failed))

    @applies(CampaignCreated)
    def _created(self, e: CampaignCreated):
        self.status, self.author_id = DRAFT, e.author_id

    @applies(CampaignSendRequested)
    def _send_requested(self, e):
        self.status = SENDING

    @applies(CampaignQueued)
    def _queued(self, e):
        self.queued = True

    @applies(CampaignSent)
    def _sent(self, e):
        self.status = SENT
