"""The public catalogue of the petitions service's events (docs/events.md): none yet."""
