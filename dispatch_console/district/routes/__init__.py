"""The district API's routes, one module per resource; ``server.create_app`` mounts them."""
