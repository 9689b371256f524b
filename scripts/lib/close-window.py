#!/usr/bin/env python3
"""Asks X11 windows to close, as a window manager's close button does: a WM_DELETE_WINDOW
client message (ICCCM), which GTK turns into the app's close request. The test scripts need
it because Xvfb runs no window manager and xdotool (3.20160805, Debian 12) cannot send it.

Usage: close-window.py WINDOW_ID...   (ids as `xdotool search` prints them; $DISPLAY is used)
"""
import ctypes
import sys

CLIENT_MESSAGE = 33  # X.h ClientMessage
NO_EVENT_MASK = 0


class XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class XEvent(ctypes.Union):
    # XEvent is a union padded to 24 longs.
    _fields_ = [("xclient", XClientMessageEvent), ("pad", ctypes.c_long * 24)]


def main(window_ids):
    if not window_ids:
        sys.exit(__doc__.strip())
    x11 = ctypes.CDLL("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent)]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]

    display = x11.XOpenDisplay(None)
    if not display:
        sys.exit("close-window: cannot open the X display (is DISPLAY set?)")
    protocols = x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
    delete = x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
    for window_id in window_ids:
        event = XEvent()
        event.xclient.type = CLIENT_MESSAGE
        event.xclient.window = int(window_id, 0)
        event.xclient.message_type = protocols
        event.xclient.format = 32
        event.xclient.data[0] = delete
        event.xclient.data[1] = 0  # CurrentTime
        if not x11.XSendEvent(display, event.xclient.window, 0, NO_EVENT_MASK, ctypes.byref(event)):
            sys.exit(f"close-window: XSendEvent to {window_id} failed")
    x11.XFlush(display)
    x11.XCloseDisplay(display)


if __name__ == "__main__":
    main(sys.argv[1:])
