"""The members service's RPC payloads, read into commands (umpnet_kernel.payloads)."""
from umpnet_kernel.payloads import PayloadMismatch, load, payload_schema  # noqa: F401
