"""jupyter-server's gateway kernel manager, pointed at a wasm-repl server.

jupyter-server's GatewayKernelClient sends the gateway's Authorization header on every REST
call, but opens the kernel's channels WebSocket without it (jupyter-server 1.x and 2.x alike),
so a gateway that checks tokens refuses the socket. The client here sends the same header on
the socket too; everything else is jupyter-server's own code. `BlockingGatewayKernelClient` is
the same client with blocking calls, for synchronous callers (jupyter_kernel_test).
"""
import websocket
from jupyter_client.client import KernelClient
from jupyter_client.utils import run_sync
from jupyter_server.gateway.gateway_client import GatewayClient
from jupyter_server.gateway.managers import GatewayKernelClient, GatewayKernelManager


def configure(url, token):
    """Points the gateway client at wasm-repl (as --gateway-url and --GatewayClient.auth_token do)."""
    gateway = GatewayClient.instance()
    gateway.url = url
    gateway.auth_token = token


class AuthenticatedGatewayKernelClient(GatewayKernelClient):
    async def start_channels(self, *args, **kwargs):
        headers = GatewayClient.instance().load_connection_args()["headers"]
        create = websocket.create_connection

        def with_headers(url, **options):
            return create(url, header=[f"{name}: {value}" for name, value in headers.items()], **options)

        websocket.create_connection = with_headers
        try:
            await super().start_channels(*args, **kwargs)
        finally:
            websocket.create_connection = create


class BlockingGatewayKernelClient(AuthenticatedGatewayKernelClient):
    start_channels = run_sync(AuthenticatedGatewayKernelClient.start_channels)
    get_shell_msg = run_sync(KernelClient._async_get_shell_msg)
    get_iopub_msg = run_sync(KernelClient._async_get_iopub_msg)
    get_stdin_msg = run_sync(KernelClient._async_get_stdin_msg)
    get_control_msg = run_sync(KernelClient._async_get_control_msg)
    wait_for_ready = run_sync(KernelClient._async_wait_for_ready)
    is_alive = run_sync(KernelClient._async_is_alive)


def kernel_manager(client_class=AuthenticatedGatewayKernelClient):
    return GatewayKernelManager(client_factory=client_class)
