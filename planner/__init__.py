"""Serving model, GPU-mix planner, reports and the capplan CLI."""
