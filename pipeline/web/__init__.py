"""The web face: the REST API (``api.py``) and, later, the clerks' console."""
