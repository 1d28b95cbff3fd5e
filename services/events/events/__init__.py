"""The events service (meetings and trainings): see ../README.md."""
