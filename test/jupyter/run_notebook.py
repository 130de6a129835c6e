"""Executes a notebook with nbclient on a wasm-repl kernel, through jupyter-server's gateway
kernel manager; prints the executed notebook as JSON.

    python3 run_notebook.py URL TOKEN < notebook.ipynb

nbclient leaves a kernel manager it was given to its caller, so the kernel is shut down here.
"""
import sys

import nbformat
from jupyter_client.utils import run_sync
from nbclient import NotebookClient

from gateway_kernel import configure, kernel_manager

configure(sys.argv[1], sys.argv[2])
notebook = nbformat.read(sys.stdin, as_version=4)
manager = kernel_manager()
client = NotebookClient(notebook, km=manager, kernel_name="python3", allow_errors=True, timeout=60, startup_timeout=60)
try:
    client.execute()
finally:
    if client.kc is not None:
        client.kc.stop_channels()
    run_sync(manager.shutdown_kernel)()
nbformat.write(notebook, sys.stdout)
