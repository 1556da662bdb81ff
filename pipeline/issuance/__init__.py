"""Issuance: the approved-and-paid gate before a token, and the issuance register."""
