"""gunicorn settings for serving RADIANT: ``gunicorn -c python:radiant.gunicorn_conf radiant.wsgi``.

Prometheus metrics across workers (``prometheus_client`` multiprocess mode): each worker
writes its counters to files in ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics``, whichever
worker serves it, adds up the files of all of them. For that the directory must exist
before any worker imports ``prometheus_client``, hold nothing from an earlier run, and a
worker that exits must write what it has summed and not yet written, and be marked dead so
its live gauges stop counting (its counters are kept: a restarted worker loses no requests
from the totals).

This file is read by the master before it forks. When ``PROMETHEUS_MULTIPROC_DIR`` is not
set it makes a private directory for this server (removed when the master exits), in
memory (``/dev/shm``) where the machine has it: every request writes to those files through
``mmap``, and on a disk the kernel would keep writing the dirty pages back.
"""

import glob
import os
import shutil
import tempfile

# The largest request line gunicorn accepts (its default is 4094): the app refuses URLs
# over settings.MAX_URL_LENGTH itself, with a problem response rather than gunicorn's page.
limit_request_line = 8190

_made_here = False
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _memory = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="radiant-metrics-", dir=_memory)
    _made_here = True
_directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
os.makedirs(_directory, exist_ok=True)


def on_starting(server):
    """A fresh start: values of an earlier server in the same directory would be added in."""
    for path in glob.glob(os.path.join(_directory, "*.db")):
        os.remove(path)


def worker_exit(server, worker):
    """The worker's last second of requests, summed in memory, into its file."""
    from radiant import metrics

    metrics.flush()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made_here:
        shutil.rmtree(_directory, ignore_errors=True)
