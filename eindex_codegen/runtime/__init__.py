"""Checks and small helpers that generated modules call at run time.

Generated code imports only these modules and its backend, never the
parser or the templates, so running a cached module costs no compilation.
"""
