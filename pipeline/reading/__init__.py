"""Reading: OCR engines and their cache, page and document readers by printed labels, matching reads to entries."""
