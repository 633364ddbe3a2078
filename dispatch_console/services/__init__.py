"""Async I/O around the domain: district API client, audit outbox, credentials, settings."""
