"""In-app notifications and each person's choice of how messages reach them."""
