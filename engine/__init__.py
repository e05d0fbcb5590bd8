"""Closed loop: features, affect estimate, controller, engine."""
