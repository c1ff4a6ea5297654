"""Airbyte's standard tests for the flowlu-connector binary (see test_standard_tests.py)."""

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]
