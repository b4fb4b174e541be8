"""aioecs: a typed, async client for Amazon ECS."""
