"""Faults under stress: a storage that refuses writes, a real full disk, kill -9, flood control."""
