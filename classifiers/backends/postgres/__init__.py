"""PostgreSQL backends: the face index in a database with pgvector."""
