"""Hydra plugin package of the tracker: see tracker_launcher.py."""
