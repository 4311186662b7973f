"""Tasks: configuration plus a small module on the shared mode spine."""
