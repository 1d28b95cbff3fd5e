"""Service manifests: each service declares itself once, in its own `pyproject.toml`.

    [tool.umpnet]
    service = "members.service:MembersService"     # the nameko class
    events = "members.events"                      # its public event catalogue
    read_models = ["members.projections:read_models"]          # MetaData its rebuild remakes
    tables = ["members.throttle:throttle_metadata"]            # other MetaData in its database
    settings = { RATE_LIMIT_SCALE = "" }           # environment variables its config reads, with defaults
    max_workers = 10                               # optional
    personal_data = true                           # it holds personal data: it answers the RPC
                                                   # `export_personal_data(member_id)` (the GDPR export)
    background = true                              # no request waits for its work (the mailer): on a
                                                   # shared machine it yields the CPU to those answering

The service's name is its folder's name (`services/members` is "members"): it
names its database (`MEMBERS_DATABASE_URL`, `$DATA_DIR/members.db`) and its
RPC queue, so the nameko class must carry the same `name`. Its migrations are
in `migrations/versions/` of the folder; the alembic environment is the
kernel's (`umpnet_kernel.alembic`).

Everything that needs the list of services (the ops commands, the processes
`make run` starts, the gateway's `/health`, the tests) calls `discover()`.
Discovery reads the TOML files, so a new folder is seen without reinstalling
anything; its package still has to be importable (`make setup` installs every
`services/*` folder, editable).

Where to look: `$UMPNET_SERVICES` (folders holding service folders, separated
by `:`), else the repository's `services/` beside this kernel (installed editable).
"""
from __future__ import annotations

import importlib
import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache

SERVICES_PATH_VARIABLE = "UMPNET_SERVICES"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_SERVICES_DIR = os.path.join(REPO, "services")


def load_attribute(reference: str):
    """The object a "module:attribute" reference names."""
    module, _, attribute = reference.partition(":")
    if not attribute:
        raise ValueError(f"{reference!r} is not 'module:attribute'")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class ServiceManifest:
    name: str
    folder: str
    service_class: str  # "module:Class"
    events_module: str
    read_models: tuple[str, ...] = ()  # "module:MetaData" the rebuild remakes
    tables: tuple[str, ...] = ()  # "module:MetaData" kept beside them (rate limits, outcomes…)
    settings: dict[str, str] = field(default_factory=dict)  # environment variable -> default
    max_workers: int = 10
    personal_data: bool = False  # answers `export_personal_data(member_id)`: the gateway's export asks it
    background: bool = False  # nothing a client waits for: `umpnet serve` runs it at a lower CPU priority

    @property
    def migrations_dir(self) -> str:
        return os.path.join(self.folder, "migrations", "versions")

    def load_class(self):
        cls = load_attribute(self.service_class)
        if getattr(cls, "name", None) != self.name:
            # Its RPC queue and its database would then disagree on who it is.
            raise ValueError(f"{self.service_class} is named {getattr(cls, 'name', None)!r}, "
                             f"but its folder says {self.name!r}")
        return cls

    def read_model_metadata(self) -> list:
        return [load_attribute(ref) for ref in self.read_models]

    def metadata(self) -> list:
        """Every MetaData of the service's own tables (the kernel's are added by the migrations)."""
        return [load_attribute(ref) for ref in (*self.read_models, *self.tables)]


def read_manifest(folder: str) -> ServiceManifest | None:
    """The manifest in `folder/pyproject.toml`, or None when the folder is not a service."""
    path = os.path.join(folder, "pyproject.toml")
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        table = tomllib.load(f).get("tool", {}).get("umpnet")
    if table is None:
        return None
    try:
        return ServiceManifest(
            name=os.path.basename(os.path.normpath(folder)),
            folder=os.path.abspath(folder),
            service_class=table["service"],
            events_module=table["events"],
            read_models=tuple(table.get("read_models", ())),
            tables=tuple(table.get("tables", ())),
            settings={str(k): str(v) for k, v in table.get("settings", {}).items()},
            max_workers=int(table.get("max_workers", 10)),
            personal_data=bool(table.get("personal_data", False)),
            background=bool(table.get("background", False)),
        )
    except KeyError as missing:
        raise ValueError(f"{path}: [tool.umpnet] needs {missing}") from None


def services_path(environ=os.environ) -> tuple[str, ...]:
    value = environ.get(SERVICES_PATH_VARIABLE)
    return tuple(p for p in value.split(os.pathsep) if p) if value else (DEFAULT_SERVICES_DIR,)


def discover(path: tuple[str, ...] | None = None) -> tuple[ServiceManifest, ...]:
    """Every service found under `path` (default: `services_path()`), by name."""
    return _discover(tuple(os.path.abspath(p) for p in (path or services_path())))


@lru_cache(maxsize=8)  # the gateway asks on every /health; the files do not change under a running process
def _discover(path: tuple[str, ...]) -> tuple[ServiceManifest, ...]:
    found: dict[str, ServiceManifest] = {}
    for root in path:
        if not os.path.isdir(root):
            continue
        for entry in sorted(os.listdir(root)):
            manifest = read_manifest(os.path.join(root, entry))
            if manifest is None:
                continue
            if manifest.name in found:
                raise ValueError(f"two services named {manifest.name!r}: {found[manifest.name].folder}, {manifest.folder}")
            found[manifest.name] = manifest
    return tuple(sorted(found.values(), key=lambda m: m.name))


def services_holding_personal_data(path: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The services whose manifest says they hold personal data: each answers `export_personal_data`."""
    return tuple(m.name for m in discover(path) if m.personal_data)


def service_names(path: tuple[str, ...] | None = None) -> tuple[str, ...]:
    return tuple(m.name for m in discover(path))


def service(name: str, path: tuple[str, ...] | None = None) -> ServiceManifest:
    for manifest in discover(path):
        if manifest.name == name:
            return manifest
    raise KeyError(name)
