#!/usr/bin/env bash
# Regenerates the tray icons from icon.png: one per state, a dot in the lower right corner.
#   tray-off.png    the proxy is off (greyed logo, grey dot)
#   tray-on.png     the proxy is on and every server is fine (green dot)
#   tray-error.png  a server is failing (red dot)
# Needs ImageMagick's real convert (/usr/bin/convert; /usr/local/bin/convert is a stand-in).
set -euo pipefail
cd "$(dirname "$0")"
CONVERT=${CONVERT:-/usr/bin/convert}
dot() { # $1 output, $2 dot colour, $3.. extra operations on the logo
    local out=$1 colour=$2
    shift 2
    "$CONVERT" icon.png "$@" -filter Lanczos -resize 64x64 \
        -fill white -draw 'circle 48,48 48,33' \
        -fill "$colour" -draw 'circle 48,48 48,36' \
        -strip PNG32:"$out"
}
dot tray-off.png '#8a8f98' -modulate 100,0 -channel A -evaluate multiply 0.7 +channel
dot tray-on.png '#2fb344'
dot tray-error.png '#d63939'
