"""Pure domain: models, the access policy and the viewing-session record.

Nothing here imports Qt, does I/O or knows about HTTP, so every rule can be tested in
plain pytest and shared between the console and the reference district server.
"""
