"""The public catalogue of the events service's events (docs/events.md): none yet."""
