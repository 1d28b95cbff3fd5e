"""The meetings use cases' commands: one frozen dataclass per use case, read strictly
from the RPC payload (umpnet_kernel.payloads). Values are checked by the use cases."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CreateMeeting:
    """Published at once unless `draft`."""

    title: str
    description: str
    starts_at: str  # ISO 8601 with a zone
    ends_at: str
    address: str
    postcode: str
    capacity: int
    theme: str
    federation_code: str | None = None  # None: national (a federation admin's is always theirs)
    online_url: str | None = None
    notify_radius_km: int | None = None
    draft: bool = False


@dataclass(frozen=True)
class EditMeeting:
    """Only the fields given change."""

    meeting_id: str
    title: str | None = None
    description: str | None = None
    starts_at: str | None = None
    ends_at: str | None = None
    address: str | None = None
    postcode: str | None = None
    capacity: int | None = None
    theme: str | None = None
    online_url: str | None = None
    notify_radius_km: int | None = None


@dataclass(frozen=True)
class CancelMeeting:
    meeting_id: str
    reason: str = ""


@dataclass(frozen=True)
class RecordAttendance:
    meeting_id: str
    member_id: str
