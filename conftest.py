"""Every test belongs to one layer, so that CI can run the layers one by one and name the one that broke.

Tests marked ``book``, ``notebooks`` or ``browser`` keep their mark; every
other test, the doctests of ``cnnlab`` and ``booktools`` included, is a
``unit`` test.
"""

import pytest

LAYERS = ("unit", "book", "notebooks", "browser")


def pytest_collection_modifyitems(items):
    for item in items:
        if not any(item.get_closest_marker(layer) for layer in LAYERS):
            item.add_marker(pytest.mark.unit)
