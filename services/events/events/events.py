"""The public catalogue of the events service's events (docs/events.md).

Two parts: meetings (and their registrations), then online trainings.
"""
from __future__ import annotations

from dataclasses import dataclass, field  # noqa: F401

from umpnet_kernel.events import DomainEvent, describe  # noqa: F401


# -- meetings and registrations --------------------------------------------------



# (meetings above this line)
#
#
#
#
# (trainings below this line)

# -- online trainings ------------------------------------------------------------

