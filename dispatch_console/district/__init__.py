"""The reference district side: API server, stream gateway, demo accounts, camera simulator.

Police installs do not need this package (an import-linter contract keeps the console from
depending on it); the demo and the tests start it on loopback.
"""
