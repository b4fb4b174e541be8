"""Generates aioecs' models, operations and modeled errors from botocore's ECS model."""
