"""Caseflow."""
