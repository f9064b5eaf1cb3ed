"""Datasette plugins for the papers site, one concern per module.

`datasette --plugins-dir plugins` loads each module as a plugin; the package
makes them importable by the tests.
"""
