"""precheck: automated pre-review of organisation-employee UKey certificate applications."""

__version__ = "0.1.0"
