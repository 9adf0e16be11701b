"""Registers the provenance fixtures. They live in provenance_fixtures.py, which test modules import by that
unique name (two folders' conftest modules would collide under pytest's rootdir imports)."""

import provenance_fixtures as _fixtures

globals().update({k: v for k, v in vars(_fixtures).items() if not k.startswith("__")})
