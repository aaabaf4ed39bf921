"""Route handlers. Each module imports its heavy libraries inside the
functions that use them, so a cold start of one route pays only for its own."""
