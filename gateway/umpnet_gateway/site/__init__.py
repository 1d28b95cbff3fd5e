"""The server-rendered site (French): `pages` holds what every page shares, then one module per service."""
