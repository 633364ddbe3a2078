"""RTSP front for the camera simulator: re-serves each camera's live TS as RTSP.

Real IP cameras speak RTSP, and the console's RTSP path (DESCRIBE, SETUP over TCP
interleaved, auth challenges, joining mid-GOP) must meet a server we did not write. The
GStreamer RTSP server is such a server, but Python reaches it only through PyGObject
(``gi``), which is a Debian system package and not installable into the project venv.
So this file is a standalone script for Debian's ``/usr/bin/python3``: it imports only
the standard library and ``gi``, and the simulator runs it as a child process.

Each mount is a SHARED media factory that pulls the camera's TS from the simulator over
HTTP: one HTTP pull per camera however many RTSP clients, and every RTSP client joins
the camera's one running encoder wherever it is in its GOP, as with a real camera.

Protocol with the parent: one ``RTSP_READY=rtsp://HOST:PORT`` line on stdout once
listening; exit when stdin reaches EOF (the parent died) or on SIGTERM/SIGINT. The
password comes in the ``CAMSIM_RTSP_PASSWORD`` environment variable, never argv (which
any local user can read in ``ps``). Exit code 3 means GStreamer or a plugin is missing.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

PASSWORD_ENV = "CAMSIM_RTSP_PASSWORD"
_UNAVAILABLE = 3


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rtsp_front", description=__doc__)
    parser.add_argument("--http", required=True, help="simulator base URL to pull TS from")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="RTSP port (0 = free port)")
    parser.add_argument("--codec", choices=("h264", "h265"), default="h264")
    parser.add_argument("--cameras", required=True, help="comma-separated camera ids")
    parser.add_argument("--main", action="store_true", help="also mount the main streams")
    parser.add_argument("--user", help=f"require this user (password in ${PASSWORD_ENV})")
    return parser.parse_args(argv)


def _launch(http: str, camera_id: str, stream: str, codec: str) -> str:
    parse, pay = ("h264parse", "rtph264pay") if codec == "h264" else ("h265parse", "rtph265pay")
    location = f"{http}/feed/{camera_id}/{stream}.ts"
    return (
        f"( souphttpsrc location={location} is-live=true do-timestamp=true "
        # tsdemux adds 700 ms of "smoothing" latency by default; a camera adds none.
        # alignment=au: a picture's slices leave together, as a camera's encoder sends them.
        f"! tsdemux latency=0 ! {parse} config-interval=-1 ! video/x-{codec},alignment=au "
        f"! {pay} name=pay0 pt=96 )"
    )


def _accept_basic_and_digest(auth: Any, methods: int) -> None:
    """``auth.set_supported_methods(BASIC | DIGEST)``, which PyGObject cannot express.

    GstRTSPAuthMethod is declared as an enum although the C API takes a bit mask, so
    PyGObject rejects the combined value. The C function is called directly instead.
    """
    try:
        auth.set_supported_methods(methods)
        return
    except TypeError:
        pass
    import ctypes

    library = ctypes.CDLL("libgstrtspserver-1.0.so.0")
    setter = library.gst_rtsp_auth_set_supported_methods
    setter.argtypes = [ctypes.c_void_p, ctypes.c_int]
    setter.restype = None
    capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    capsule_pointer.restype = ctypes.c_void_p
    setter(capsule_pointer(auth.__gpointer__, None), methods)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    password = os.environ.get(PASSWORD_ENV)
    if args.user is not None and not password:
        print(f"rtsp_front: --user needs ${PASSWORD_ENV}", file=sys.stderr)
        return 2
    try:
        import gi  # type: ignore[import-not-found]

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtsp", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import (  # type: ignore[import-not-found]
            GLib,
            Gst,
            GstRtsp,
            GstRtspServer,
        )
    except (ImportError, ValueError) as exc:
        print(
            f"rtsp_front: GStreamer RTSP server not available to {sys.executable}: {exc}",
            file=sys.stderr,
        )
        return _UNAVAILABLE
    Gst.init(None)
    needed = ["souphttpsrc", "tsdemux"]
    needed += ["h264parse", "rtph264pay"] if args.codec == "h264" else ["h265parse", "rtph265pay"]
    missing = [name for name in needed if Gst.ElementFactory.find(name) is None]
    if missing:
        print(f"rtsp_front: missing GStreamer elements: {', '.join(missing)}", file=sys.stderr)
        return _UNAVAILABLE

    server: Any = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    # The server's thread pool allows one thread by default: a DESCRIBE that waits for a
    # camera's first keyframe then stalls every other client, even a 404. A camera
    # answers its clients independently.
    server.get_thread_pool().set_max_threads(64)
    permissions: Any = None
    if args.user is not None:
        role = "camsim-viewer"
        token: Any = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, role)
        auth: Any = GstRtspServer.RTSPAuth()
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, password), token)
        auth.add_digest(args.user, password, token)
        _accept_basic_and_digest(
            auth, int(GstRtsp.RTSPAuthMethod.BASIC | GstRtsp.RTSPAuthMethod.DIGEST)
        )
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_role_from_structure(
            Gst.Structure.new_from_string(
                f"{role}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
        )

    mounts: Any = server.get_mount_points()
    streams = ["sub", "main"] if args.main else ["sub"]
    for camera_id in filter(None, args.cameras.split(",")):
        for stream in streams:
            factory: Any = GstRtspServer.RTSPMediaFactory()
            factory.set_launch(_launch(args.http.rstrip("/"), camera_id, stream, args.codec))
            factory.set_shared(True)
            factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)
            factory.set_suspend_mode(GstRtspServer.RTSPSuspendMode.NONE)
            factory.set_stop_on_disconnect(True)
            if permissions is not None:
                factory.set_permissions(permissions)
            path = f"/cameras/{camera_id}" + ("" if stream == "sub" else "/main")
            mounts.add_factory(path, factory)

    loop: Any = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"rtsp_front: cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return 1

    def quit_loop(*_: object) -> bool:
        loop.quit()
        return False

    def on_stdin(fd: int, _condition: object) -> bool:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            loop.quit()
            return False
        return True

    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, quit_loop)
    GLib.io_add_watch(
        sys.stdin.fileno(),
        GLib.PRIORITY_DEFAULT,
        GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR,
        on_stdin,
    )
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"RTSP_READY=rtsp://{host}:{server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
