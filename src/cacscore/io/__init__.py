"""Reading CT volumes and writing label volumes, keeping geometry exact."""
