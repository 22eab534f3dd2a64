"""Analytic queueing models for LLM serving, each checked by simulation."""
