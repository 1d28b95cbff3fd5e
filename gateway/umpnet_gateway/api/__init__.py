"""The JSON API (API.md §3): `lists` holds what every list shares, then one module per service."""
