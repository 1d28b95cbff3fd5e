"""The debates service: see ../README.md."""
