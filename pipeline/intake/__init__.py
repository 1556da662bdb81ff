"""Intake: bounded decoding of uploaded images and PDFs into pages."""
