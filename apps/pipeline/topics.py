"""Create or check the pipeline's topics (and ACLs when secure): ``python -m apps.pipeline.topics``.

The topic-init service and ``make topics`` (in process, through ``manage.py``) run the same
``ensure_all``; this process prints one line per topic. Exit code: 0 everything matches after
the run, 1 drift remains, 2 Kafka cannot be reached.
"""

from __future__ import annotations

import sys

from confluent_kafka import KafkaException

from common.settings import KafkaSettings, RuntimeSettings, load
from kafka.admin.setup_topics import configured_topics, ensure_all


def main() -> int:
    """Settings from the environment, then ``ensure_all``; see the module docstring for the exit code."""
    settings = load(KafkaSettings)
    try:
        reports, acls = ensure_all(settings, load(RuntimeSettings).secure, configured_topics())
    except KafkaException as exc:
        print(f"topic-init: cannot reach Kafka at {settings.bootstrap_servers}: {exc}", file=sys.stderr)
        return 2
    for report in reports:
        detail = "; ".join(report.drift)
        note = f' note="{report.note}"' if report.note else ""
        print(f"topic={report.name} action={report.action}" + (f' drift="{detail}"' if detail else "") + note)
    if acls is not None:
        print(f"acls created={len(acls.created)} drift={len(acls.drift)}")
        for line in acls.drift:
            print(f'acl drift="{line}"')
    return 1 if any(r.drift for r in reports) or (acls and acls.drift) else 0


if __name__ == "__main__":
    sys.exit(main())
