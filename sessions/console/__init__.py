"""The therapist's live web console (issue 18): a local ASGI app beside a running session."""
