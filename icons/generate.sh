#!/usr/bin/env bash
# Regenerates the app icons: two patch cables between four jacks, on a rounded square.
# Needs ImageMagick's real convert (/usr/bin/convert; /usr/local/bin/convert is a stand-in).
set -euo pipefail
cd "$(dirname "$0")"
CONVERT=${CONVERT:-/usr/bin/convert}
GLYPH="
fill '#1f3a5f' roundrectangle 16,16 495,495 104,104
fill none stroke-linecap round stroke-width 34
stroke '#f2a33a' path 'M 150,170 C 150,290 362,222 362,342'
stroke '#4fc3a1' path 'M 362,170 C 362,290 150,222 150,342'
stroke none fill '#eef3f9'
circle 150,170 150,218
circle 362,170 362,218
circle 150,342 150,390
circle 362,342 362,390
fill '#1f3a5f'
circle 150,170 150,192
circle 362,170 362,192
circle 150,342 150,364
circle 362,342 362,364
"
"$CONVERT" -size 512x512 xc:none -draw "$GLYPH" -strip PNG32:icon.png
"$CONVERT" icon.png -filter Lanczos -resize 32x32 -strip PNG32:32x32.png
"$CONVERT" icon.png -filter Lanczos -resize 128x128 -strip PNG32:128x128.png
"$CONVERT" icon.png -filter Lanczos -resize 256x256 -strip PNG32:128x128@2x.png
# The logo in the window header.
"$CONVERT" icon.png -filter Lanczos -resize 64x64 -strip PNG32:../ui/logo.png
# Windows builds need icons/icon.ico (tauri-build embeds it as the executable's resource).
"$CONVERT" icon.png -strip -define icon:auto-resize=256,64,48,32,24,16 icon.ico
