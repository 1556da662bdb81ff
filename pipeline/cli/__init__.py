"""Faces: the command line (review, forms, approve, issue), the batch runner and terminal output."""
