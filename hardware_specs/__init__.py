"""Accelerator catalog: validated datasheet specs and measured profiles."""
