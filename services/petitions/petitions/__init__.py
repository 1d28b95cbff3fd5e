"""The petitions service: see ../README.md."""
