"""The worker face: the dramatiq actor that reviews a stored case with ``review_case``."""
