"""The push (scope `export`): candidates' exported values and unsubscribes to their Contacts."""

from sfsync.services.push.run import refuse_push, run_push

__all__ = ["refuse_push", "run_push"]
