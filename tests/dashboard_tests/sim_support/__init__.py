"""Schedulers and curves for the dashboard's end-to-end runs on the simulate executor."""
