"""One module per external program or model (Tesseract, RapidOCR, zbar, zxing).

Each module alone runs its tool, parses its output and turns its failures and timeouts into
``pipeline.errors.ToolError`` / ``ToolMissingError``; each offers a probe that says how to
install what is missing.
"""
