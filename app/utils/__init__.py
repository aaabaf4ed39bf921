"""Helpers shared by the handlers: request parsing, responses, logging.

Stdlib only, so importing them costs a cold start nothing noticeable.
"""
