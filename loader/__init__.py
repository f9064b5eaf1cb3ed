"""Build a searchable SQLite database from Hugging Face Daily Papers listing dumps."""
