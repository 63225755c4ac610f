"""The run directory: metrics files, progress display and plots."""
