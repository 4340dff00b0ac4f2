"""The project package. Importing it stays cheap (Lambda cold start, docs/DEPLOY.md).

``radiant.celery_app`` is loaded on first use (``celery -A radiant`` finds ``radiant.celery``
itself); ``radiant.tasks`` imports it, so a task is always bound to this app, never to
Celery's unconfigured default.
"""

__all__ = ["celery_app"]


def __getattr__(name):
    if name == "celery_app":
        from radiant.celery import app

        return app
    raise AttributeError(f"module 'radiant' has no attribute {name!r}")
