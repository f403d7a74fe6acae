"""Reconciliation between Kafka and PostgreSQL (``python manage.py verify``)."""

from apps.verify.reconcile import Target, TopicReport, VerifyReport, verify
from apps.verify.render import exit_code, main, print_report, render, verify_pipeline, verify_until_caught_up

__all__ = [
    "Target",
    "TopicReport",
    "VerifyReport",
    "exit_code",
    "main",
    "print_report",
    "render",
    "verify",
    "verify_pipeline",
    "verify_until_caught_up",
]
