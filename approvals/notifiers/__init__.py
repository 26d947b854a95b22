"""Channels that tell humans about proposed fixes and their results."""
