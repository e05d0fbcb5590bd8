"""Performance measurements (run as scripts; never timed tests)."""
