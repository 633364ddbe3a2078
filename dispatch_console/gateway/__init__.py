"""The stream gateway: pulls each camera once and relays it to the consoles allowed to watch.

It is its own process (``dispatch-console gateway serve``) and imports neither the
district server's API nor its database: access comes as signed stream tokens and pushed
cut events (see ``dispatch_console.domain.stream_tokens`` and ``link``).
"""
