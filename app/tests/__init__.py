"""Unit tests of the function; stdlib unittest only.

Run from the repository root:  python3 -B -m unittest discover -s app -t app
(`go test .` runs them with Python 3.11, 3.12 and 3.13). lambdapack leaves
this folder out of the function package.
"""
