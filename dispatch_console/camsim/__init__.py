"""Camera simulator that behaves like a district's real IP cameras.

Each camera runs one continuous encoder with a fixed keyframe interval, so viewers join
mid-GOP as they do with real cameras, and every frame carries its capture time (see
:mod:`.timestrip`) so latency can be measured glass to glass. Streams are served as
MPEG-TS and MJPEG over HTTP and, through a GStreamer child process, as RTSP.
"""
