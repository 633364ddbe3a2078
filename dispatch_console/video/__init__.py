"""Live video: libVLC playback delivered as QImages, so it works on any Qt platform."""
