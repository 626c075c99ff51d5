"""Mutation testing: python -m mutation (make mutate)."""
