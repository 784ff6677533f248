"""The `sfsync` command line: one entry point for ops, the demo and the worker."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import click

from sfsync.domain.errors import DomainError
from sfsync.entrypoints.bootstrap import Container, from_environment
from sfsync.entrypoints.logs import configure_logging
from sfsync.entrypoints.plugins import add_plugin_commands
from sfsync.entrypoints.settings import LOG_LEVELS, ConfigError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sfsync")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """sfsync: keep research candidates and a Salesforce org in sync."""
    if ctx.obj is None:  # tests may hand in their own
        ctx.obj = from_environment()
    ctx.call_on_close(ctx.obj.close)


@cli.command()
@click.pass_obj
def migrate(container: Container) -> None:
    """Apply database migrations (safe to run again: a no-op when up to date)."""
    from sfsync.adapters.postgres.createdb import ensure_database
    from sfsync.adapters.postgres.migrate import migrate as apply

    settings = container.settings
    if ensure_database(settings.database_url):
        click.echo("created the database")
    applied = apply(settings.database_url)
    click.echo(
        f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else "")
    )


@cli.command()
@click.pass_obj
def health(container: Container) -> None:
    """Check that Postgres and RabbitMQ answer and the schema is current."""
    from sfsync.entrypoints.health import check_all

    for line in check_all(container):
        click.echo(line)


def _register_optional() -> None:
    """Commands that live in their own modules."""
    from sfsync.entrypoints import (
        account_commands,
        dead_letter_commands,
        org_status,
        push_commands,
    )
    from sfsync.entrypoints.commands import COMMANDS

    modules = (account_commands, push_commands, dead_letter_commands, org_status)
    for command in (*COMMANDS, *(c for m in modules for c in m.COMMANDS)):
        cli.add_command(command)


_register_optional()
add_plugin_commands(cli)  # `emulator` and `demo` come from sfsync-emulator, when installed


def configure_cli_logging(environ: Mapping[str, str] = os.environ) -> None:
    """What a command logs (a Salesforce call retried, say) goes through sfsync's pipeline
    to stderr: console lines from warning up, unless SFSYNC_LOG_LEVEL asks for another level
    or SFSYNC_LOG_FORMAT for json. A bad value is left to the settings to report; `worker`
    configures its own from its settings."""
    level = environ.get("SFSYNC_LOG_LEVEL", "").strip().lower()
    log_format = environ.get("SFSYNC_LOG_FORMAT", "").strip().lower()
    configure_logging(
        "json" if log_format == "json" else "console",
        level if level in LOG_LEVELS else "warning",
    )


def main() -> None:
    """Run the CLI; expected failures become one clear line and a non-zero exit."""
    configure_cli_logging()  # here, once per process: tests invoking `cli` keep their own
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except ConfigError as err:
        click.echo(f"configuration error: {err}", err=True)
        sys.exit(2)
    except DomainError as err:
        click.echo(f"error ({err.code}): {err.message}", err=True)
        sys.exit(1)
    except Exception as err:  # a bug: frames for the report, but no exception text (values)
        from sfsync.entrypoints.logs import render_exception

        click.echo(f"unexpected error:\n{render_exception(err)}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
