"""Qt widgets and views only: they render state and forward clicks, nothing more."""
