"""The public catalogue of the debates service's events (docs/events.md): none yet."""
