"""Meetings as iCalendar (RFC 5545): one meeting's `.ics`, and a member's feed.

Times are written in the meeting's own zone (Europe/Paris) with its VTIMEZONE,
so a calendar app shows 18:30 in Paris whatever the daylight-saving rules of
the day; the UID is stable, so a feed refreshed after an edit updates the
event in place, and a cancelled meeting stays in the feed as CANCELLED.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from umpnet_kernel.throttle import utc_aware

PRODID = "-//UMPnet//Réunions//FR"
UID_DOMAIN = "meetings.umpnet"


def of_meetings(rows: list[dict], base_url: str, name: str) -> str:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    stamp = datetime.now(timezone.utc)
    for row in rows:
        zone = ZoneInfo(row.get("timezone") or "Europe/Paris")
        event = Event()
        event.add("uid", f"{row['meeting_id']}@{UID_DOMAIN}")
        event.add("dtstamp", stamp)
        event.add("dtstart", utc_aware(row["starts_at"]).astimezone(zone))
        event.add("dtend", utc_aware(row["ends_at"]).astimezone(zone))
        event.add("summary", row["title"])
        event.add("description", row["description"])
        event.add("location", ", ".join(p for p in (row["address"], f"{row['postcode']} {row['city']}") if p))
        event.add("geo", (row["lat"], row["lon"]))
        if base_url:
            event.add("url", f"{base_url.rstrip('/')}/reunions/{row['meeting_id']}")
        if row["status"] == "cancelled":
            event.add("status", "CANCELLED")
        else:
            event.add("status", "CONFIRMED" if row.get("registration", "confirmed") == "confirmed" else "TENTATIVE")
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical().decode("utf-8")
