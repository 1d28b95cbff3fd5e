"""What the platform is made of, for the operator tools: its services and its processes.

The services are found by their manifests (`umpnet_kernel.manifest`): nothing
here names one. The processes `make run` starts are one per service plus the
gateway, each `umpnet serve NAME`; `umpnet procfile` prints them as a Procfile.
"""
from __future__ import annotations

import os
import sys

from umpnet_kernel.manifest import REPO, ServiceManifest, discover, load_attribute, service, service_names

__all__ = ["REPO", "GATEWAY", "services", "service", "process_names", "procfile_entries", "process_argv",
           "process_config", "process_class"]

GATEWAY = "gateway"
GATEWAY_CLASS = "umpnet_gateway.service:GatewayService"


def services() -> tuple[ServiceManifest, ...]:
    return discover()


def process_names() -> list[str]:
    """What `make run` starts: every service, then the gateway in front of them."""
    return [*service_names(), GATEWAY]


def procfile_entries() -> list[tuple[str, str]]:
    """(name, command) of each process, as a Procfile's lines say them."""
    return [(name, f"umpnet serve {name}") for name in process_names()]


def process_argv(name: str) -> list[str]:
    """The command line of one process, with this environment's `umpnet`."""
    return [os.path.join(os.path.dirname(sys.executable), "umpnet"), "serve", name]


def gateway_config() -> dict:
    from umpnet_kernel.config import nameko_config

    return nameko_config(
        GATEWAY,
        {"WEB_SERVER_ADDRESS": os.environ.get("GATEWAY_ADDRESS") or "127.0.0.1:8000"},
        max_workers=50,
        # Neither query strings (tokens travel there) nor client addresses reach the log.
        log_filters={
            "no_query_strings": {"()": "umpnet_gateway.logs.DropQueryStrings"},
            "no_client_addresses": {"()": "umpnet_gateway.logs.DropClientAddresses"},
        },
    )


def process_config(name: str) -> dict:
    """The nameko config of one process, from the environment."""
    from umpnet_kernel.config import service_config

    return gateway_config() if name == GATEWAY else service_config(service(name))


def process_class(name: str):
    return load_attribute(GATEWAY_CLASS) if name == GATEWAY else service(name).load_class()
