"""Readers: turn a page image into the fields a document shows, found by their printed labels."""
