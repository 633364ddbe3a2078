"""The listening socket the reference server binds for uvicorn."""

from __future__ import annotations

import asyncio
import socket

from dispatch_console.district.serve import bind_socket


def test_accepted_connections_get_tcp_nodelay() -> None:
    """asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP.

    With protocol 0, Nagle's algorithm meets the client's delayed ACK and every request on
    a reused connection stalls about 44 ms (issue 7, item 8).
    """

    async def check() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listener = bind_socket("127.0.0.1", 0)
        server = await asyncio.start_server(on_connect, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(accepted, 5)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(check()) != 0
