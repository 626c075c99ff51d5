"""Load and fault tooling for Backprop Lab: `python -m stress` (or `make stress`).

- stress.server: start real servers (`backprop-lab serve`) and nginx on free loopback ports.
- stress.load: the load scenarios (a room of users at ~1 req/s; heavy clients at the size limits).
"""
