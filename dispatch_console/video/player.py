"""libVLC playback into QImages.

Why video callbacks instead of handing libVLC a window id: a window id needs a native
window (so nothing on the ``offscreen`` platform, i.e. no real pixels in tests or
screenshots), and libVLC painting straight into the window bypasses Qt, so the grid
cannot overlay labels, lock screens or "stream failed" notices reliably. With callbacks
libVLC decodes into a buffer we own, we copy each new picture into a QImage and Qt paints.

Threading rules (libVLC is not re-entrant, see python-vlc #77):

* libVLC calls our video callbacks on its video-output thread and our event handlers on
  its event thread. Those functions make no Qt or PySide call at all: they hand libVLC
  a buffer to decode into, mark the one it displayed as the latest under the session's
  lock and wake the GUI thread by writing one byte to a socket pair that a
  QSocketNotifier watches (a socket, not a pipe: Windows can watch only sockets).
  Earlier designs
  that emitted a PySide signal, or created a QImage/QEvent on libVLC's threads, crashed
  the interpreter now and then (shiboken wrapper work on a foreign thread racing the GUI
  thread's). They never call into libVLC and never touch widgets.
* ``play()`` hands the creation of the libVLC media and player and their start (12-15 ms
  a stream on this project's machine) to one starter thread, so opening 16 feeds at once
  does not hold the GUI thread for a quarter of a second (bench/run.py reports what is
  left as ``grid16_play_block_ms``). A failure to start comes back through the same
  wake-up as libVLC's own events.
* ``stop()`` detaches the session at once (no more frames are delivered from it) and
  hands the blocking ``libvlc_media_player_stop``/``release`` calls to a worker thread, so
  the GUI thread never waits for libVLC to join its decoder threads. The release waits
  for the session's start to have finished: a player stopped right after ``play()`` is
  released once it exists, never before.

The frame path makes no copy of its own. libVLC scales and converts each picture into
one of the session's buffers, and the GUI thread wraps the latest displayed buffer in a
QImage (no copy) that the tile paints. A buffer is never handed back to libVLC while any
QImage still points at it: PySide keeps a reference to the buffer object for as long as
a QImage shares its pixels, so the reference count says when nobody holds it any more.
Usually two buffers per stream suffice (one on screen, one being decoded), a third when
the GUI thread falls behind; a buffer someone keeps (a test's list of frames, a picture
kept on screen after a stop) is retired from the pool, never overwritten. A repeated
picture (libVLC redisplays the last one while buffering or when the stream freezes) is
told apart by comparing it with the last delivered one (``memcmp``, which stops at the
first difference), not by checksumming every picture.

Police video is never written to disk: frames live only in memory, no snapshot,
recording or stream-output option is ever set, and the instance is started with the
options that keep libVLC from writing its own files (see ``shared_instance``). libVLC's
own log reaches the application's logger (warnings and errors only), through the same
redaction as every log line.

Stream URLs may carry a one-time access ticket in the query string; only the scheme,
host, port and path are ever logged.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import logging
import platform
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, QSocketNotifier, Qt, Signal
from PySide6.QtGui import QImage

from dispatch_console.domain.picture_size import DEFAULT_PIXEL_BUDGET, DecodeLimit, visible_size
from dispatch_console.domain.redaction import redact_text, redact_url

try:
    import vlc
except (ImportError, OSError, NotImplementedError) as _exc:  # libVLC missing or broken
    vlc = None
    _VLC_IMPORT_ERROR: str | None = str(_exc)
else:
    _VLC_IMPORT_ERROR = None

__all__ = [
    "DEFAULT_NETWORK_CACHING_MS",
    "VideoPlayer",
    "VideoUnavailableError",
    "redact_url",
    "shared_instance",
    "wait_for_releases",
    "warm_up",
]

log = logging.getLogger(__name__)

# Measured with libVLC 3.0.24 against the gateway: 80-100 ms keeps the picture live;
# below about 50 ms late frames are dropped and the picture freezes instead.
DEFAULT_NETWORK_CACHING_MS = 100
# libVLC's demuxer for each container a gateway link can name (MPEG-TS for H.264 and
# H.265 cameras, multipart JPEG for MJPEG ones); other URLs are probed.
DEMUXERS = {"ts": "ts", "mjpg": "mjpeg"}
_BUFFER_ALIGN = 32  # libVLC requires picture planes aligned on 32 bytes

# libVLC's format callbacks, declared here rather than through python-vlc's
# ``VideoFormatCb``: that one passes the chroma as ``c_char_p``, which ctypes turns into
# an immutable bytes copy, so the callback could not ask for RV32.
_FORMAT_CB = ctypes.CFUNCTYPE(
    ctypes.c_uint,
    ctypes.POINTER(ctypes.c_void_p),
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint),
    ctypes.POINTER(ctypes.c_uint),
    ctypes.POINTER(ctypes.c_uint),
    ctypes.POINTER(ctypes.c_uint),
)
_CLEANUP_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_set_format_callbacks: Any = None


def _format_callbacks_function() -> Any:
    """libvlc_video_set_format_callbacks with our own argument types (made once)."""
    global _set_format_callbacks
    if _set_format_callbacks is None:
        prototype = ctypes.CFUNCTYPE(None, ctypes.c_void_p, _FORMAT_CB, _CLEANUP_CB)
        _set_format_callbacks = prototype(("libvlc_video_set_format_callbacks", vlc.dll))
    return _set_format_callbacks


def _align(value: int, to: int) -> int:
    return (value + to - 1) // to * to


class _Format:
    """One picture format libVLC agreed to: the shape of the buffers it decodes into.

    Made on libVLC's video-output thread by the format callback; a new one (with new
    buffers) when the source changes shape.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.pitch = _align(width * 4, _BUFFER_ALIGN)
        self.lines = _align(height, _BUFFER_ALIGN)
        self.size = self.pitch * height


_FREE, _DECODING, _READY, _HELD, _RETIRED = range(5)


class _Buffer:
    """One picture's memory: libVLC decodes into it, a QImage wraps it for painting.

    ``state`` (guarded by the session's lock) says who may touch it: free (libVLC may
    get it), decoding (libVLC has it), ready (displayed, not yet taken by the GUI
    thread), held (the GUI thread's current picture) or retired (someone kept a QImage
    of it: never used again; the QImage keeps the memory alive).
    """

    def __init__(self, fmt: _Format, ident: int) -> None:
        self.format = fmt
        self.ident = ident  # what libVLC passes back to unlock/display (never 0)
        self.state = _FREE
        # ctypes only guarantees malloc alignment; over-allocate and align by hand.
        raw = ctypes.create_string_buffer(fmt.pitch * fmt.lines + _BUFFER_ALIGN)
        base = ctypes.addressof(raw)
        self.address = (base + _BUFFER_ALIGN - 1) & ~(_BUFFER_ALIGN - 1)
        # from_buffer (unlike from_address) keeps ``raw`` alive for as long as the view
        # lives, and a QImage made from the view keeps the view alive.
        self.view = (ctypes.c_char * fmt.size).from_buffer(raw, self.address - base)
        self.idle_refs = sys.getrefcount(self.view)  # this attribute and the call's own

    def shared(self) -> bool:
        """GUI thread: a QImage of this buffer is still alive somewhere."""
        return sys.getrefcount(self.view) > self.idle_refs

    def image(self) -> QImage:
        """GUI thread: a QImage on this buffer's pixels (no copy)."""
        fmt = self.format
        # The ctypes array itself, not a memoryview of it: PySide holds a reference to
        # the object it was given for as long as the pixels are shared (``shared``).
        pixels: Any = self.view
        return QImage(pixels, fmt.width, fmt.height, fmt.pitch, QImage.Format.Format_RGB32)


_libc: Any = None


def _memcmp() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        _libc.memcmp.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
        _libc.memcmp.restype = ctypes.c_int
    return _libc.memcmp


class VideoUnavailableError(RuntimeError):
    """libVLC could not be loaded or initialised on this workstation."""


# --------------------------------------------------------------------------- instance

_instance: Any = None
_instance_lock = threading.Lock()


def shared_instance(network_caching_ms: int = DEFAULT_NETWORK_CACHING_MS) -> Any:
    """Return the process-wide ``vlc.Instance``, creating it on first use.

    One instance for all tiles: each instance loads the plugin cache and starts its own
    threads, which is wasted work per tile. ``network_caching_ms`` only takes effect on
    the call that creates the instance; players override it per stream with a media
    option.
    """
    global _instance
    with _instance_lock:
        if _instance is not None:
            return _instance
        if vlc is None:
            raise VideoUnavailableError(
                "Video unavailable: libVLC could not be loaded "
                f"({_VLC_IMPORT_ERROR}); install VLC (Debian: libvlc5 and vlc-plugin-base)."
            )
        args = [
            "--no-audio",
            # Over HTTP libVLC treats a live stream like a file and pins its clock to the
            # first timestamp; clock synchro lets it follow the live edge.
            "--clock-synchro=1",
            f"--network-caching={int(network_caching_ms)}",
            # Frame threading adds about two frames of latency; one thread per small
            # stream decodes fast enough.
            "--avcodec-threads=1",
            "--no-video-title-show",
            "--quiet",
            # We never give libVLC a window; keep it away from X entirely.
            "--no-xlib",
            *NO_DISK_OPTIONS,
        ]
        instance = vlc.Instance(args)
        if instance is None:
            raise VideoUnavailableError(
                "Video unavailable: libVLC failed to start; check that the VLC plugins "
                "are installed (Debian: vlc-plugin-base)."
            )
        _install_log(instance)
        _instance = instance
        return instance


# Police video never reaches the disk, and libVLC writes no files of its own: no
# snapshots, no recording, no media library, no album art or metadata fetched (cached
# under ~/.cache/vlc), no plugin cache written. Stream output (--sout) is never set.
# tests/video/test_no_disk.py watches the home, data and temp folders while 4 play.
NO_DISK_OPTIONS = (
    "--no-plugins-cache",
    "--no-media-library",
    "--no-metadata-network-access",
    "--no-snapshot-preview",
    "--no-stats",
)


# ----------------------------------------------------------------------- libVLC's log

_LIBVLC_WARNING = 3  # libvlc_log_level: DEBUG 0, NOTICE 2, WARNING 3, ERROR 4
# libVLC repeats some warnings and errors many times a second per stream under load
# ("picture is too late", "buffer deadlock prevented"): the same message from the same
# libVLC object is logged at most once per this many seconds, with a count of the rest.
LIBVLC_REPEAT_S = 30.0
_repeats: dict[tuple[bytes, int], tuple[float, int]] = {}
_repeats_lock = threading.Lock()
libvlc_log = logging.getLogger("dispatch_console.video.libvlc")
_log_callback: Any = None  # the ctypes callback: referenced as long as libVLC may call it
_vsnprintf: Any = None


def _formatter() -> Any:
    """libc's vsnprintf, or None where a va_list cannot be passed on from ctypes.

    On x86_64 (System V and Windows alike) a ``va_list`` reaches the callback as a
    pointer (an array type, or a ``char *``), so it can be passed on as ``c_void_p``.
    On other ABIs it may be a structure passed by value, which ctypes cannot forward:
    there the message's format string is logged unformatted (its placeholders shown
    as ``%s``), which still says what went wrong and can leak no argument.
    """
    global _vsnprintf
    if _vsnprintf is None:
        _vsnprintf = False
        if platform.machine().lower() in {"x86_64", "amd64"}:
            name = ctypes.util.find_library("c") or ctypes.util.find_library("msvcrt")
            try:
                libc = ctypes.CDLL(name)
                function = libc.vsnprintf
            except (OSError, AttributeError):
                return None
            function.argtypes = (ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p)
            function.restype = ctypes.c_int
            _vsnprintf = function
    return _vsnprintf or None


def _on_libvlc_log(_data: Any, level: int, context: Any, fmt: bytes | None, args: Any) -> None:
    """libVLC's threads: one log message. Warnings and errors only (the debug chatter is
    thousands of lines a minute), redacted like every log line: libVLC names the URL it
    failed to open, ticket and all."""
    if level < _LIBVLC_WARNING or fmt is None or _log_callback is None:
        return
    try:
        module, object_id = _context(context)
        now = time.monotonic()
        with _repeats_lock:
            last, skipped = _repeats.get((fmt, object_id), (-LIBVLC_REPEAT_S, 0))
            if now - last < LIBVLC_REPEAT_S:
                _repeats[(fmt, object_id)] = (last, skipped + 1)
                return
            if len(_repeats) > 1000:  # objects come and go with streams
                _repeats.clear()
            _repeats[(fmt, object_id)] = (now, 0)
        function = _formatter()
        if function is not None:
            text = ctypes.create_string_buffer(1024)
            function(text, len(text), fmt, args)
            message = text.value.decode("utf-8", "replace")
        else:
            message = fmt.decode("utf-8", "replace")
        if skipped:
            message += f" ({skipped} more like it in the last {LIBVLC_REPEAT_S:g} s)"
        libvlc_log.log(
            logging.ERROR if level > _LIBVLC_WARNING else logging.WARNING,
            "libVLC %s: %s",
            module,
            redact_text(message),
        )
    except Exception:  # never let an exception unwind into libVLC's thread
        pass


def _context(context: Any) -> tuple[str, int]:
    """The libVLC module that logged (e.g. ``http``) and the id of its object."""
    module = ctypes.c_char_p()
    name, header, ident = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_uint()
    try:
        vlc.libvlc_log_get_context(context, ctypes.byref(module), None)
        vlc.libvlc_log_get_object(
            context, ctypes.byref(name), ctypes.byref(header), ctypes.byref(ident)
        )
    except Exception:  # a libVLC without these calls: the message alone
        return "?", 0
    label = (module.value or name.value or b"?").decode("utf-8", "replace")
    return label, int(ident.value)


def _install_log(instance: Any) -> None:
    global _log_callback
    callback = vlc.CallbackDecorators.LogCb(_on_libvlc_log)
    _log_callback = callback
    instance.log_set(callback, None)
    # libVLC's threads may log while the interpreter shuts down: detach first.
    atexit.register(_uninstall_log, instance)


def _uninstall_log(instance: Any) -> None:
    global _log_callback
    instance.log_unset()
    _log_callback = None


# --------------------------------------------------------------------------- worker

# Blocking libVLC calls (instance creation, stop, release) run here, never on the GUI
# thread. Two threads so one slow stop does not delay the next.
_releaser = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vlc-worker")
# Players are created and started here, in the order play() was called. Its own thread:
# a release job waits for its session's start, so starts must never queue behind
# releases (two waiting releases would hold both release threads).
_starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlc-start")
_pending: set[Future[None]] = set()
_pending_lock = threading.Lock()


def _submit_release(job: Callable[[], None]) -> None:
    future = _releaser.submit(job)
    with _pending_lock:
        _pending.add(future)

    def _done(f: Future[None]) -> None:
        with _pending_lock:
            _pending.discard(f)
        if (exc := f.exception()) is not None:
            log.error("releasing a libVLC player failed: %r", exc)

    future.add_done_callback(_done)


def warm_up(network_caching_ms: int = DEFAULT_NETWORK_CACHING_MS) -> Future[Any]:
    """Create the shared instance on a worker thread.

    Loading libVLC's plugins takes about 0.1 s; call this at start-up so the first
    ``play()`` does not pay for it on the GUI thread. The future's exception is a
    ``VideoUnavailableError`` when libVLC cannot start.
    """
    return _releaser.submit(shared_instance, network_caching_ms)


def wait_for_releases(timeout: float = 10.0) -> bool:
    """Block until every stopped player has been released by libVLC.

    For application exit and tests only (never call it from a GUI slot during normal
    operation). Returns ``False`` if some release is still running after ``timeout``.
    """
    with _pending_lock:
        pending = set(_pending)
    if not pending:
        return True
    _done, not_done = wait_futures(pending, timeout=timeout)
    return not not_done


# --------------------------------------------------------------------------- helpers


def _endpoint(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port is not None else ""
        return f"{parts.hostname or '?'}{port}"
    except ValueError:
        return "?"


class _Bridge(QObject):
    """Wakes the GUI thread for libVLC's threads through a connected socket pair.

    libVLC's threads write a byte to one end (a plain system call, no Python-Qt
    binding involved); the read end's QSocketNotifier fires on the GUI thread, which then
    drains the player. Owned by Python (no Qt parent) and kept alive by every session
    that may still write to it, so its sockets are open for as long as anyone can wake
    it. A socket pair rather than ``os.pipe``: Qt's notifier on Windows watches sockets
    only, and ``socket.socketpair`` works on every platform.
    It holds its player weakly: a player that is gone simply gets no more calls.
    """

    def __init__(self, player: VideoPlayer) -> None:
        super().__init__()
        self._player = weakref.ref(player)
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        weakref.finalize(self, _close_sockets, self._reader, self._writer)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_wake)

    def wake(self) -> None:
        """Any thread: ask the GUI thread to drain (never blocks; a full buffer is awake)."""
        try:
            self._writer.send(b"\0")
        except (BlockingIOError, InterruptedError):
            pass

    def _on_wake(self) -> None:
        try:
            while self._reader.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        player = self._player()
        if player is not None:
            player._drain()


def _close_sockets(*sockets: socket.socket) -> None:
    for sock in sockets:
        try:
            sock.close()
        except OSError:
            pass


_EV_PLAYING = 1
_EV_ERROR = 2
_EV_END = 3
_EV_START_FAILED = 4  # not libVLC's: the starter thread could not start the player


class _Session:
    """Everything one ``play()`` owns: the libVLC player, its buffer and callbacks.

    The callbacks run on libVLC threads; they read only fields set before playback
    started, plus ``closed`` and the buffers' states guarded by ``lock``.
    """

    def __init__(
        self,
        generation: int,
        bridge: _Bridge,
        limit: DecodeLimit,
        size_hint: tuple[int, int] | None = None,
    ) -> None:
        self.generation = generation
        self.bridge = bridge
        self.limit = limit
        self.size_hint = size_hint
        # Set by the format callback before the first picture.
        self.format: _Format | None = None
        self.source_size: tuple[int, int] | None = None
        self.closed = False
        self.lock = threading.Lock()
        # Every buffer libVLC was given, by ident - 1: referenced until the session is
        # released, so a picture in flight never points at freed memory. ``pool``: the
        # current format's buffers that are not retired.
        self.buffers: list[_Buffer] = []
        self.pool: list[_Buffer] = []
        self.ready: _Buffer | None = None  # displayed last, not yet taken
        self.held: _Buffer | None = None  # the GUI thread's current picture
        self.pending_events: list[int] = []
        self.posted = False
        self.player: Any = None
        self.media: Any = None
        # ctypes function objects must stay referenced for as long as libVLC may call
        # them. That includes python-vlc's EventManager wrapper: it owns the ctypes
        # trampoline for event callbacks, and player.event_manager() returns a new
        # wrapper each call, so a wrapper left to the garbage collector frees the
        # trampoline libVLC still calls.
        self.callbacks: tuple[Any, ...] = ()
        self.events: Any = None
        # The starter thread's job for this session (done once the player exists and
        # plays, or failed to); why it failed, for the GUI thread's message.
        self.started: Future[None] | None = None
        self.start_error = ""

    # -- the starter thread --------------------------------------------------------------

    def start(self, url: str, options: Sequence[str]) -> None:
        """Create the libVLC media and player for this session and start it playing.

        A session closed before the starter got to it is not started at all; one closed
        meanwhile is released by its release job, which waits for this to return.
        """
        if self.closed:
            return
        try:
            instance = shared_instance()
            media = instance.media_new(url, *options)
            self.media = media
            player = instance.media_player_new()
            self.player = player
            player.set_media(media)
            lock_cb = vlc.CallbackDecorators.VideoLockCb(self.on_lock)
            unlock_cb = vlc.CallbackDecorators.VideoUnlockCb(self.on_unlock)
            display_cb = vlc.CallbackDecorators.VideoDisplayCb(self.on_display)
            format_cb = _FORMAT_CB(self.on_format)
            cleanup_cb = _CLEANUP_CB(self.on_cleanup)
            self.callbacks = (lock_cb, unlock_cb, display_cb, format_cb, cleanup_cb)
            player.video_set_callbacks(lock_cb, unlock_cb, display_cb, None)
            _format_callbacks_function()(player, format_cb, cleanup_cb)
            events = player.event_manager()
            self.events = events
            for kind in (
                vlc.EventType.MediaPlayerPlaying,
                vlc.EventType.MediaPlayerEncounteredError,
                vlc.EventType.MediaPlayerEndReached,
            ):
                events.event_attach(kind, self.on_event)
            if self.closed:
                return  # stopped meanwhile: the release job takes it from here
            log.info("playing %s", redact_url(url))
            if player.play() != 0:
                raise RuntimeError("libVLC refused to start the player")
        except VideoUnavailableError as exc:
            self._start_failed(str(exc))
        except Exception as exc:  # libVLC refused the media or player
            log.exception("could not start playback of %s", redact_url(url))
            self._start_failed(f"Stream failed: could not start video ({exc})")

    def _start_failed(self, message: str) -> None:
        with self.lock:
            self.start_error = message
            self.pending_events.append(_EV_START_FAILED)
        self._wake()

    # -- libVLC video-output thread --------------------------------------------------

    def on_format(
        self, _opaque: Any, chroma: int, width: Any, height: Any, pitches: Any, lines: Any
    ) -> int:
        """Choose the buffer from the source's size: its shape, within the decode limit."""
        try:
            # The decoder reports its padded buffer; the picture is the visible part.
            log.debug("decoder buffer %dx%d", width[0], height[0])
            source = visible_size(int(width[0]), int(height[0]), self.size_hint)
            out_w, out_h = self.limit.size_for(*source)
            fmt = _Format(out_w, out_h)
            ctypes.memmove(chroma, b"RV32", 4)
            width[0], height[0] = out_w, out_h
            pitches[0], lines[0] = fmt.pitch, fmt.lines
            with self.lock:
                self.format = fmt
                self.pool = []  # the old shape's buffers are no longer handed out
                if self.ready is not None:
                    self.ready.state = _RETIRED
                    self.ready = None
                self.source_size = source
            return 1
        except Exception:  # never let an exception unwind into libVLC's thread
            log.exception("could not set up the picture buffer")
            return 0  # libVLC then fails the video output, and the player reports it

    def on_cleanup(self, _opaque: Any) -> None:
        return None

    def on_lock(self, _opaque: Any, planes: Any) -> int:
        """A free buffer of the current shape: never the one on screen (held), never the
        latest displayed one (ready) nor one libVLC is still filling."""
        with self.lock:
            fmt = self.format
            assert fmt is not None  # libVLC locks only after a successful format callback
            buffer = next((b for b in self.pool if b.state == _FREE), None)
            if buffer is None:
                buffer = _Buffer(fmt, len(self.buffers) + 1)
                self.buffers.append(buffer)
                self.pool.append(buffer)
            buffer.state = _DECODING
        planes[0] = buffer.address
        return buffer.ident

    def on_unlock(self, _opaque: Any, _picture: Any, _planes: Any) -> None:
        return None

    def on_display(self, _opaque: Any, picture: Any) -> None:
        try:
            self._deliver(int(picture or 0))
        except Exception:  # never let an exception unwind into libVLC's thread
            log.exception("dropping a video frame")

    def _deliver(self, ident: int) -> None:
        if not 0 < ident <= len(self.buffers):
            return
        buffer = self.buffers[ident - 1]
        with self.lock:
            # The last picture delivered: pending, else on screen. Neither can be handed
            # to libVLC (nor released by the GUI thread) while this compares with it.
            last = self.ready if self.ready is not None else self.held
        # While buffering, and when a stream freezes, libVLC displays the same picture
        # again; only a picture whose content changed counts as a new frame (the stall
        # watchdog relies on it). memcmp stops at the first difference.
        repeated = (
            last is not None
            and last.format is buffer.format
            and _memcmp()(buffer.address, last.address, buffer.format.size) == 0
        )
        with self.lock:
            if buffer.state != _DECODING:
                return  # retired by a shape change meanwhile
            if repeated or self.closed:
                buffer.state = _FREE
                return
            if self.ready is not None:
                self.ready.state = _FREE  # never taken: this newer picture replaces it
            buffer.state = _READY
            self.ready = buffer
        # Coalesce: if the GUI thread has not taken the previous frame yet, it will
        # take this newer one instead, so a busy GUI never builds a queue of frames.
        self._wake()

    def _wake(self) -> None:
        with self.lock:
            post = not self.posted
            self.posted = True
        if post:
            self.bridge.wake()

    # -- libVLC event thread -----------------------------------------------------------

    def on_event(self, event: Any) -> None:
        if self.closed:
            return
        kind = event.type
        if kind == vlc.EventType.MediaPlayerPlaying:
            code = _EV_PLAYING
        elif kind == vlc.EventType.MediaPlayerEncounteredError:
            code = _EV_ERROR
        elif kind == vlc.EventType.MediaPlayerEndReached:
            code = _EV_END
        else:
            return
        with self.lock:
            self.pending_events.append(code)
        self._wake()

    # -- GUI thread --------------------------------------------------------------------

    def take(self) -> tuple[QImage | None, _Buffer | None, list[int]]:
        """GUI thread: the newest picture wrapped in a QImage (no copy), the buffer that
        was on screen until now (for ``give_back`` once the new picture replaced it) and
        the events since the last wake-up."""
        with self.lock:
            buffer, self.ready = self.ready, None
            events, self.pending_events = self.pending_events, []
            self.posted = False
            previous = None
            if buffer is not None:
                buffer.state = _HELD
                previous, self.held = self.held, buffer
        if buffer is None:
            return None, None, events
        return buffer.image(), previous, events

    def give_back(self, buffer: _Buffer) -> None:
        """GUI thread: the picture no longer on screen may be decoded into again, unless
        a QImage of it is still alive somewhere (then it is retired, never overwritten)."""
        shared = buffer.shared()
        with self.lock:
            if buffer.state != _HELD or buffer is self.held:
                return
            if shared or buffer not in self.pool:
                buffer.state = _RETIRED
                if buffer in self.pool:
                    self.pool.remove(buffer)
            else:
                buffer.state = _FREE

    def release_job(self) -> Callable[[], None]:
        """The blocking teardown, to run on a worker thread after ``closed`` is set."""
        started = self.started
        # The job keeps this session (buffer, callbacks, bridge) alive until libVLC has
        # joined its threads and can no longer call back; then it hands the session to
        # the GUI thread. The session may hold the last reference to its bridge, a
        # QObject with a socket notifier: destroyed on this worker thread, it would
        # leave the GUI thread's event dispatcher watching a closed, soon reused fd
        # (a crash seen in the test suite). Only the holder is captured, so no
        # reference stays behind on the worker thread.
        holder = [self]
        graveyard = _graveyard()

        def job() -> None:
            if started is not None:
                wait_futures([started])  # the player exists (or never will) after this
            session = holder.pop()
            if session.player is not None:
                session.player.stop()
                session.player.release()
            if session.media is not None:
                session.media.release()
            session.callbacks = ()
            session.events = None
            graveyard.bury.emit(session)

        return job


class _Graveyard(QObject):
    """Receives finished sessions on the GUI thread, where their Qt objects may die."""

    bury = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.bury.connect(self._drop, Qt.ConnectionType.QueuedConnection)

    def _drop(self, _session: object) -> None:
        """The queued signal's argument was the last reference; it goes when this returns."""


_graveyard_instance: _Graveyard | None = None


def _graveyard() -> _Graveyard:
    """The process's graveyard, made on the GUI thread by the first player."""
    global _graveyard_instance
    if _graveyard_instance is None:
        _graveyard_instance = _Graveyard()
    return _graveyard_instance


# --------------------------------------------------------------------------- player


class VideoPlayer(QObject):
    """Plays one live stream at a time and delivers its frames as QImages.

    Signals (always emitted on the GUI thread):

    * ``frame_ready(QImage)`` — a picture whose content differs from the previous one.
    * ``first_frame()`` — once per ``play()``, just before the first ``frame_ready``.
    * ``failed(str)`` — the stream could not be opened or ended; a message for people.
    * ``stopped()`` — once per ``play()``, when that session ends for any reason
      (``stop()``, a new ``play()``, or after ``failed``). No frame of the session
      arrives after it, which is what the audit trail's end time relies on.

    Frames keep the source's shape: libVLC's format callback tells the source's size
    and the player answers with a buffer of the same aspect ratio holding at most
    ``pixel_budget`` pixels (640×360 worth by default) and no larger than the box the
    tile shows it in (``set_decode_limit``), which libVLC scales into. A 4:3
    or 9:16 camera is therefore never stretched, and the GUI thread gets tile-sized
    images instead of scaling a 1080p camera 15 times a second. Every buffer libVLC was
    given lives as long as the session (a format change makes new ones and keeps the
    old), so no picture in flight ever points at freed memory.

    A ``frame_ready`` picture wraps libVLC's buffer without a copy. Keeping it is safe:
    a buffer with a live QImage is never decoded into again (it is retired instead), so
    a kept picture never changes; it only costs the memory of one picture.
    """

    frame_ready = Signal(QImage)
    first_frame = Signal()
    failed = Signal(str)
    stopped = Signal()

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        pixel_budget: int = DEFAULT_PIXEL_BUDGET,
        width: int | None = None,
        height: int | None = None,
        network_caching_ms: int | None = None,
        media_options: Sequence[str] = (),
    ) -> None:
        super().__init__(parent)
        if width is not None or height is not None:
            # Older callers named a box; its area is the budget (the shape is the source's).
            if not width or not height or width <= 0 or height <= 0:
                raise ValueError("width and height must be positive")
            pixel_budget = width * height
        self._limit = DecodeLimit(pixel_budget)  # ValueError unless positive
        self._network_caching_ms = network_caching_ms
        self._media_options = tuple(media_options)
        _graveyard()  # on the GUI thread, before any session needs it
        self._bridge = _Bridge(self)
        self._session: _Session | None = None
        self._generation = 0
        self._url = ""
        self._frames_shown = 0
        self._last_image: QImage | None = None
        self._had_first_frame = False

    # ---------------------------------------------------------------- public API

    @property
    def frames_shown(self) -> int:
        """Distinct frames delivered through ``frame_ready`` since the last ``play()``."""
        return self._frames_shown

    @property
    def generation(self) -> int:
        """How many times ``play()`` was called: a changed value means a reopened stream."""
        return self._generation

    @property
    def last_image(self) -> QImage | None:
        """The most recent frame of the current or last session (memory only)."""
        return self._last_image

    @property
    def source_size(self) -> tuple[int, int] | None:
        """The current stream's picture size as the decoder gives it (None before one)."""
        session = self._session
        if session is None:
            return None
        with session.lock:
            return session.source_size

    def set_decode_limit(self, limit: DecodeLimit) -> None:
        """The largest picture the next ``play()`` decodes into: a main stream in a large
        tile is decoded at the tile's size, not at 640×360 nor at 1080p, and a sub stream
        in a small tile at the size it is shown, so the tile paints it unscaled."""
        self._limit = limit

    @property
    def is_playing(self) -> bool:
        """True between ``play()`` and the matching ``stopped``."""
        return self._session is not None

    def play(
        self,
        url: str,
        media_options: Sequence[str] = (),
        *,
        size_hint: tuple[int, int] | None = None,
    ) -> None:
        """Start playing ``url``, ending any current session first.

        Returns at once; results arrive as signals. ``media_options`` are libVLC media
        options (``":name=value"``) added after the player's defaults. ``size_hint`` is
        the picture size the camera's stream profile states, used to find the visible
        picture inside the decoder's padded buffer (a common camera shape is found
        without it).
        """
        if self._session is not None:
            self._end_session()
        self._generation += 1
        self._url = url
        self._frames_shown = 0
        self._last_image = None
        self._had_first_frame = False
        session = _Session(self._generation, self._bridge, self._limit, size_hint)
        self._session = session
        session.started = _starter.submit(session.start, url, self._options(url, media_options))

    def stop(self) -> None:
        """End the current session without blocking the GUI thread."""
        if self._session is not None:
            self._end_session()

    # ---------------------------------------------------------------- internals

    def _options(self, url: str, extra_options: Sequence[str]) -> list[str]:
        """The media options for ``url``: the player's defaults, then the caller's."""
        options: list[str] = []
        # Skip demuxer probing: the link's extension says what the gateway sends.
        demuxer = DEMUXERS.get(urlsplit(url).path.rpartition(".")[2])
        if demuxer is not None:
            options.append(f":demux={demuxer}")
        if self._network_caching_ms is not None:
            options.append(f":network-caching={int(self._network_caching_ms)}")
        options.extend(self._media_options)
        options.extend(extra_options)
        return options

    def _end_session(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        # From here on the session's callbacks drop everything, and the generation
        # check below drops anything already queued.
        session.closed = True
        _submit_release(session.release_job())
        log.info("stopped %s after %d frames", redact_url(self._url), self._frames_shown)
        self.stopped.emit()

    def _fail(self, generation: int, message: str) -> None:
        if self._session is None or self._session.generation != generation:
            return
        log.warning("%s (%s)", message, redact_url(self._url))
        self.failed.emit(message)
        self._end_session()

    def _drain(self) -> None:
        """GUI thread: take what libVLC's threads left in the current session."""
        session = self._session
        if session is None:
            return  # a wake-up from a session that has ended since
        image, previous, events = session.take()
        if image is not None:
            self._frames_shown += 1
            self._last_image = image
            if not self._had_first_frame:
                self._had_first_frame = True
                self.first_frame.emit()
            self.frame_ready.emit(image)
            del image  # only the tiles and whoever kept the picture hold it now
            if previous is not None:
                # Every receiver had the new picture; the old one's buffer goes back to
                # libVLC if nobody kept a QImage of it.
                session.give_back(previous)
        if _EV_START_FAILED in events and self._session is session:
            self._fail(session.generation, session.start_error)
        elif any(code != _EV_PLAYING for code in events) and self._session is session:
            self._fail(session.generation, self._failure_message())

    def _failure_message(self) -> str:
        if self._had_first_frame:
            # A live stream has no end: the gateway (or camera) hung up.
            return "Stream failed: camera gateway closed the connection"
        return (
            f"Stream failed: could not open the stream from the camera gateway at "
            f"{_endpoint(self._url)} (unreachable, or it refused the stream)"
        )
