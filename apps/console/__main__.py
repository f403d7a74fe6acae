"""``python -m apps.console``: serve the console (service ``kafka-ui``) on PIPELINE_CONSOLE_HOST:PORT."""

from __future__ import annotations

import uvicorn

from apps.console.main import create_app
from common.logging import configure_logging
from common.settings import ConsoleSettings, DatabaseSettings, KafkaSettings, RuntimeSettings, load


def main() -> None:
    """Read the settings, build the app and serve it until SIGTERM/SIGINT."""
    console = load(ConsoleSettings)
    kafka = load(KafkaSettings)
    database = load(DatabaseSettings)
    runtime = load(RuntimeSettings)
    configure_logging("kafka-ui")
    app = create_app(console, kafka, database, runtime)  # type: ignore[arg-type]
    uvicorn.run(app, host=console.host, port=console.port, log_config=None, access_log=False)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
