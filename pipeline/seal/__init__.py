"""Seals: finding red rings on a page, their geometry, and reading their arc text."""
