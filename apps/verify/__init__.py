"""Reconciliation between Kafka and PostgreSQL (``python manage.py verify``); see ``reconcile``."""

from apps.verify.reader import Findings, JsonFold, Reconciler, Record
from apps.verify.reconcile import TopicReport, VerifyReport, verify
from apps.verify.render import main, print_report, render
from apps.verify.target import Target

__all__ = [
    "Findings",
    "JsonFold",
    "Reconciler",
    "Record",
    "Target",
    "TopicReport",
    "VerifyReport",
    "main",
    "print_report",
    "render",
    "verify",
]
