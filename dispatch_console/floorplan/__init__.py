"""Floor plans: loading, validation and geometry (shapely) for the district's schools."""
