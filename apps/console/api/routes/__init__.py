"""One router per resource: cluster, topics, messages, groups, pipeline, and health."""
