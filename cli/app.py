"""The `xunlu` command line: the Typer app and its commands, registered here one by one. Each command module
only parses its options, calls `service` (or a stage) and turns domain errors into exit codes."""
from __future__ import annotations

import logging
import os

import typer

from cli import anchor, demo, jobs, push, record, search, serve, sessions, supervision, transcribe, users

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="讯录 xunlu: interrogation-room recording and searchable transcripts.")


# The commands, in the order `xunlu --help` lists them.
app.command("transcribe")(transcribe.transcribe)
app.command("models")(transcribe.models_cmd)
app.command("demo")(demo.demo_command)
app.command("import")(sessions.import_cmd)
app.command("sessions")(sessions.sessions_cmd)
app.command("session")(sessions.session_cmd)
app.add_typer(sessions.transcript_app, name="transcript")
app.command("export")(sessions.export_cmd)
app.command("verify")(sessions.verify_cmd)
app.command("anchor")(anchor.anchor_cmd)
app.command("record")(record.record_cmd)
app.command("devices")(record.devices_cmd)
app.command("recover")(record.recover_cmd)
app.command("push")(push.push_cmd)
app.command("search")(search.search_cmd)
app.command("reindex")(search.reindex_cmd)
app.command("serve")(serve.serve_cmd)
app.command("worker")(jobs.worker_cmd)
app.command("jobs")(jobs.jobs_cmd)
app.add_typer(users.users_app, name="users")
app.command("warnings")(supervision.warnings_cmd)
app.command("sign")(supervision.sign_cmd)
app.command("session-set")(supervision.session_set_cmd)


def main() -> None:
    logging.basicConfig(level=os.environ.get("XUNLU_LOG", "WARNING").upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
