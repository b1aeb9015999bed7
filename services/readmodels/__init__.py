"""Read models: each one package with its schema, projection, queries and as-of fold."""
