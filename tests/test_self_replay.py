"""The tool tests itself: replays the cases recorded from its own pure modules.

The cases live in the repository's top-level ``test-data/`` and are recorded by
``python scripts/record_self.py``; ``conftest.py`` points these tests at them.
"""
from cleanup_trace import assert_return_values


def test_pytest_cleanup_sync_test_cases(fn, args, kwargs, expected):
    """See test-data/ at the repository root."""
    actual = fn(*args, **kwargs)
    assert_return_values(actual, expected)
