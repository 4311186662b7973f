"""Feature sets: raw ``Recording`` → per-frame feature matrix + mask + per-task labels."""
