"""Template filters of the operations dashboard."""
