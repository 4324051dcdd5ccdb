"""Pulumi programs that provision a tenant's Google Cloud project and the central platform.

Modules: ``config`` (typed stack configuration), ``naming`` (Google's name limits),
``components`` (one ComponentResource per concern), ``program`` (the stack programs),
``offline`` (evaluation with Pulumi's mocks), ``policy`` (rules over the resource graph),
``stacks`` (stack files as data) and ``plan`` (the offline plan CLI).
"""
