"""Build-only tools of the course book; students never need them."""
