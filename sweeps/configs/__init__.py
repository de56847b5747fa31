"""The profiles: one file each, a small change of ``default.py`` (as flax's examples'
``configs/``). ``sweeps.config.resolve(name)`` loads one; docs/usage.md explains each."""
