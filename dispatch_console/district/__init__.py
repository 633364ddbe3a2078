"""The reference district server: API, audit store, stream links, gateway links, demo accounts.

Police installs do not need this package (an import-linter contract keeps the console from
depending on it); the demo and the tests start it on loopback.
"""
