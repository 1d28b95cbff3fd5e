"""The gateway's own settings: from the service config, else the environment (12-factor)."""
from __future__ import annotations

import os


def setting(config: dict, name: str, default: str) -> str:
    """A gateway setting: the service config's, else the environment's, else `default`."""
    return str(config.get(name, os.environ.get(name, default)))


def switched_on(config: dict, name: str) -> bool:
    """An on/off setting, on unless it says 0, false, off or no."""
    return setting(config, name, "1").lower() not in ("0", "false", "off", "no")
