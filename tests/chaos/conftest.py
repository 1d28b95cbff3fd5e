"""The fault suite's slices.

`make test` (plain pytest) runs the bounded slice: the tests marked `chaos`
but not `chaos_full`. `make chaos` sets CHAOS_FULL=1 and runs every scenario
on both backends. Deselected, not skipped: the default run's report stays
about what it ran.
"""
import os


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CHAOS_FULL") == "1":
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("chaos_full") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept

