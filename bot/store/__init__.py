"""The shop database: SQLAlchemy models, sessions, seed data and queries."""
