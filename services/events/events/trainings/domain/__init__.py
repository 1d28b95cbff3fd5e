"""The trainings' domain: no framework here (the kernel's aggregates and errors only)."""
