"""The REST API: request and response models, routes, and the one place errors become responses."""
