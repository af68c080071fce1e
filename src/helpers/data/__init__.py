"""Reading and validating user files; the embedded CDNOW data; the seeded generator."""
