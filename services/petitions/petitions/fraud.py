"""What keeps a petition's count honest: throw-away domains, the limits, the source network.

- Addresses at a throw-away domain (the list of the `disposable-email-domains`
  package, maintained by its community) are refused.
- Rate limits (umpnet_kernel.throttle) per source address, and per email
  domain on one petition (someone minting addresses on their own domain),
  except the big mail providers, which a viral petition legitimately floods.
- Each request records a keyed hash of its source network (/24 in IPv4, /48
  in IPv6), never the address: requests per network and hour are the bursts
  an admin sees, and may strike out in one action.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import timedelta

from disposable_email_domains import blocklist as _THROWAWAY_DOMAINS

from umpnet_kernel.throttle import Limit

# Providers too big to limit per domain: most signers of any petition are there.
BIG_PROVIDERS = frozenset({
    "gmail.com", "googlemail.com", "hotmail.com", "hotmail.fr", "outlook.com", "outlook.fr", "live.fr", "live.com",
    "msn.com", "yahoo.com", "yahoo.fr", "icloud.com", "me.com", "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr",
    "neuf.fr", "laposte.net", "bbox.fr", "gmx.fr", "gmx.com", "proton.me", "protonmail.com", "aol.com",
})

BURST_THRESHOLD = 50  # requests from one network within an hour on one petition


@dataclass(frozen=True)
class SigningLimits:
    per_source: Limit = Limit(20, timedelta(hours=1))
    per_domain_and_petition: Limit = Limit(200, timedelta(hours=1))
    emails_per_address: Limit = Limit(3, timedelta(hours=1))  # confirmation links sent to one address

    def scaled(self, factor: float) -> "SigningLimits":
        if factor == 1:
            return self
        return SigningLimits(**{name: Limit(max(1, int(limit.count * factor)), limit.window)
                                for name, limit in self.__dict__.items()})


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].casefold()


def is_throwaway(domain: str) -> bool:
    """The domain or any parent of it is a known throw-away provider."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in _THROWAWAY_DOMAINS for i in range(len(labels) - 1))


def network_of(source: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) holding `source`, as text; None if it is not an address."""
    try:
        address = ipaddress.ip_address((source or "").strip())
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
