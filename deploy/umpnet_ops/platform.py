"""What the platform is made of, for the operator tools: services, their folders and classes.

The ops tools are the one place that knows every service; services themselves
never import each other.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    folder: str  # holds alembic.ini and migrations/
    service_class: str  # "module:Class"
    events_module: str

    def load_class(self):
        module, _, cls = self.service_class.partition(":")
        return getattr(importlib.import_module(module), cls)


SERVICES = (
    ServiceInfo("members", os.path.join(REPO, "services", "members"), "members.service:MembersService", "members.events"),
    ServiceInfo("mailer", os.path.join(REPO, "services", "mailer"), "mailer.service:MailerService", "mailer.events"),
)


def service(name: str) -> ServiceInfo:
    for info in SERVICES:
        if info.name == name:
            return info
    raise KeyError(name)
