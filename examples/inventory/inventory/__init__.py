"""A small stock-keeping application: the bundled example for cleanup_trace."""
