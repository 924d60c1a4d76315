#!/usr/bin/env bash
# generate.sh synthesizes the sample media used by the demo and the browser
# tests: a progressive MP4, an MP3, an HLS VOD ladder (MPEG-TS segments plus a
# byte-range variant) and a DASH VOD ladder (fMP4, SegmentTemplate+Timeline).
#
# Nothing is downloaded: the picture is ffmpeg's testsrc2 pattern with a burnt-in
# running timecode and rendition label, the sound is a tone whose pitch changes
# every 4 s plus a short tick on every whole second (so A/V sync can be checked
# against the timecode). The outputs are committed; ffmpeg is only needed to
# regenerate them:
#
#   bash examples/media/generate.sh
#
# The script is idempotent: it builds everything in a staging directory, checks
# it with ffprobe and a full decode, and only then replaces the old outputs.
set -euo pipefail

MEDIA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

DURATION=40   # seconds, every output
FPS=25
GOP=50        # one keyframe every 2 s, at the same frames in every rendition
SEG=4         # HLS/DASH segment duration, seconds
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf

for tool in ffmpeg ffprobe; do
	command -v "$tool" >/dev/null || { echo "generate.sh: $tool not found (apt-get install ffmpeg)" >&2; exit 1; }
done
if [[ ! -r $FONT ]]; then
	echo "generate.sh: $FONT missing (apt-get install fonts-dejavu-core); video will have no timecode" >&2
	FONT=""
fi

STAGE="$(mktemp -d "$MEDIA_DIR/.generate.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT

FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
BITEXACT=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 -map_chapters -1)

# Sources. Video: 640x360 testsrc2. Audio: 48 kHz stereo; the tone steps round
# the circle of fifths every $SEG s (220 Hz based, faded 50 ms at each step so
# it does not click) and a 1 kHz tick marks the first 50 ms of every second.
VSRC=(-f lavfi -i "testsrc2=size=640x360:rate=$FPS:duration=$DURATION")
TONE="0.3*sin(2*PI*220*pow(2\,mod(7*floor(t/$SEG)\,12)/12)*t)*min(1\,min(mod(t\,$SEG)\,$SEG-mod(t\,$SEG))/0.05)"
TICK="0.15*sin(2*PI*1000*t)*lt(mod(t\,1)\,0.05)"
ASRC=(-f lavfi -i "aevalsrc=exprs=$TONE+$TICK|$TONE+$TICK:sample_rate=48000:channel_layout=stereo:duration=$DURATION")
# The separate audio tracks of the HLS and DASH ladders are 1024 samples (the
# AAC encoder delay) shorter, so that with the priming frame they end at
# $DURATION s and do not leave a 21 ms eleventh segment.
ASRC_LADDER=(-f lavfi -i "aevalsrc=exprs=$TONE+$TICK|$TONE+$TICK:sample_rate=48000:channel_layout=stereo:duration=$DURATION,atrim=end_sample=$((DURATION * 48000 - 1024))")

# overlay LABEL prints a filter chain that burns the running timecode and a
# label (rendition name) into the picture, sized relative to the frame height.
overlay() {
	local label=$1
	[[ -z $FONT ]] && { echo "null"; return; }
	printf "drawtext=fontfile=%s:timecode='00\\:00\\:00\\:00':rate=%s:fontsize=h/9:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=4:x=(w-tw)/2:y=h-th-h/20," "$FONT" "$FPS"
	printf "drawtext=fontfile=%s:text='%s':fontsize=h/14:fontcolor=yellow:box=1:boxcolor=black@0.6:boxborderw=3:x=w-tw-h/30:y=h/30" "$FONT" "$label"
}

# Encoder settings shared by every H.264 rendition: main profile, fixed closed
# GOP of $GOP frames with no scene-cut keyframes, rate capped with maxrate and
# a 2 s buffer (CBR-ish). x264's VBV rate control is not repeatable with frame
# threads, so the encoder runs single-threaded to make the bytes reproducible.
X264=(-c:v libx264 -threads 1 -profile:v main -preset medium -pix_fmt yuv420p -g "$GOP" -keyint_min "$GOP" -sc_threshold 0 -x264-params "open-gop=0")
AAC=(-c:a aac -b:a 96k -ac 2 -ar 48000)

# The HLS/DASH ladder: name, width, height, video bitrate (kbit/s).
LADDER=(
	"360p 640 360 700"
	"240p 426 240 400"
	"144p 256 144 200"
)

# ladder_args prints (NUL-separated) the -filter_complex graph, the -map options
# and the per-stream rate options for the three-rendition ladder.
ladder_args() {
	local graph="[0:v]split=${#LADDER[@]}" i=0 name w h kbps
	for i in "${!LADDER[@]}"; do graph+="[s$i]"; done
	graph+=";"
	for i in "${!LADDER[@]}"; do
		read -r name w h kbps <<<"${LADDER[$i]}"
		# The SAR keeps every rendition 16:9 on screen (426x240 is not exactly
		# 16:9), which DASH requires within one AdaptationSet.
		graph+="[s$i]scale=$w:$h:flags=bicubic,setsar=r=$((h * 16))/$((w * 9)):max=10000,$(overlay "$name ${kbps}k")[v$i];"
	done
	printf '%s\0' -filter_complex "${graph%;}"
	for i in "${!LADDER[@]}"; do printf '%s\0' -map "[v$i]"; done
	printf '%s\0' -map 1:a
	for i in "${!LADDER[@]}"; do
		read -r name w h kbps <<<"${LADDER[$i]}"
		printf '%s\0' "-b:v:$i" "${kbps}k" "-maxrate:v:$i" "${kbps}k" "-bufsize:v:$i" "$((kbps * 2))k"
	done
}
mapfile -d '' LADDER_ARGS < <(ladder_args)

echo "== sample.mp4"
"${FF[@]}" "${VSRC[@]}" "${ASRC[@]}" \
	-vf "$(overlay "sample.mp4 640x360")" \
	"${X264[@]}" -b:v 700k -maxrate 700k -bufsize 1400k "${AAC[@]}" \
	"${BITEXACT[@]}" -metadata title="p2pmedia sample (synthetic test pattern)" \
	-movflags +faststart -t "$DURATION" "$STAGE/sample.mp4"

echo "== sample.mp3"
"${FF[@]}" "${ASRC[@]}" \
	-c:a libmp3lame -b:a 128k -ac 2 -ar 44100 \
	"${BITEXACT[@]}" -id3v2_version 3 -write_id3v1 0 \
	-metadata title="p2pmedia sample tone" -metadata artist="p2pmedia" \
	-t "$DURATION" "$STAGE/sample.mp3"

echo "== hls/ (3 video renditions + audio group, MPEG-TS)"
mkdir -p "$STAGE/hls"
VSM=""
for i in "${!LADDER[@]}"; do
	read -r name _ <<<"${LADDER[$i]}"
	VSM+="v:$i,agroup:aud,name:$name "
done
VSM+="a:0,agroup:aud,name:audio,default:yes"
"${FF[@]}" "${VSRC[@]}" "${ASRC_LADDER[@]}" "${LADDER_ARGS[@]}" \
	"${X264[@]}" "${AAC[@]}" "${BITEXACT[@]}" \
	-f hls -hls_time "$SEG" -hls_playlist_type vod -hls_segment_type mpegts \
	-hls_flags independent_segments \
	-hls_segment_filename "$STAGE/hls/%v/seg_%03d.ts" \
	-master_pl_name master.m3u8 -var_stream_map "$VSM" \
	-t "$DURATION" "$STAGE/hls/%v/index.m3u8"

echo "== hls-byterange/ (360p, muxed A/V, single file + EXT-X-BYTERANGE)"
mkdir -p "$STAGE/hls-byterange"
"${FF[@]}" "${VSRC[@]}" "${ASRC[@]}" \
	-vf "$(overlay "360p 700k byterange")" \
	"${X264[@]}" -b:v 700k -maxrate 700k -bufsize 1400k "${AAC[@]}" "${BITEXACT[@]}" \
	-f hls -hls_time "$SEG" -hls_playlist_type vod -hls_segment_type mpegts \
	-hls_flags single_file+independent_segments -master_pl_name master.m3u8 \
	-t "$DURATION" "$STAGE/hls-byterange/index.m3u8"

echo "== dash/ (3 video Representations + audio AdaptationSet, fMP4)"
mkdir -p "$STAGE/dash"
"${FF[@]}" "${VSRC[@]}" "${ASRC_LADDER[@]}" "${LADDER_ARGS[@]}" \
	"${X264[@]}" "${AAC[@]}" "${BITEXACT[@]}" \
	-f dash -seg_duration "$SEG" -use_template 1 -use_timeline 1 \
	-adaptation_sets "id=0,streams=v id=1,streams=a" \
	-init_seg_name 'init-$RepresentationID$.m4s' \
	-media_seg_name 'chunk-$RepresentationID$-$Number%05d$.m4s' \
	-t "$DURATION" "$STAGE/dash/manifest.mpd"

# ---- verification -----------------------------------------------------------

FAIL=0
fail() { echo "FAIL: $*" >&2; FAIL=1; }

# check FILE WANT_STREAMS: the container lasts $DURATION s (±0.3), holds the
# expected "type:codec" streams in order, and decodes end to end without a
# single error message.
check() {
	local file=$1 want=$2 dur got errs
	dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$file")
	# Playlists list their streams once more per program: keep one line per index.
	got=$(ffprobe -v error -show_entries stream=index,codec_name,codec_type -of csv=p=0 "$file" |
		grep -E '^[0-9]+,' | sort -t, -k1,1n -u | awk -F, '{printf "%s%s:%s", (NR > 1 ? " " : ""), $3, $2}')
	awk -v d="$dur" -v w="$DURATION" 'BEGIN{exit !(d > w-0.3 && d < w+0.3)}' ||
		fail "$file: duration $dur, want $DURATION"
	[[ $got == "$want" ]] || fail "$file: streams [$got], want [$want]"
	errs=$(ffmpeg -nostdin -v error -i "$file" -map 0 -f null - 2>&1 || true)
	[[ -z $errs ]] || fail "$file: decode errors: $errs"
	printf '  %-34s %7.3fs  %s\n' "${file#"$STAGE"/}" "$dur" "$got"
}

# top_boxes FILE prints the types of the top-level ISO-BMFF boxes in order.
top_boxes() {
	local file=$1 off=0 size len hdr
	len=$(stat -c %s "$file")
	while ((off + 8 <= len)); do
		hdr=$(od -An -tx1 -N8 -j "$off" "$file" | tr -d ' \n')
		size=$((16#${hdr:0:8}))
		printf '%s ' "$(printf '%b' "\\x${hdr:8:2}\\x${hdr:10:2}\\x${hdr:12:2}\\x${hdr:14:2}")"
		((size >= 8)) || break # 0 (to end of file) or 1 (64-bit size): stop here
		off=$((off + size))
	done
}

echo "== ffprobe"
check "$STAGE/sample.mp4" "video:h264 audio:aac"
check "$STAGE/sample.mp3" "audio:mp3"
check "$STAGE/hls/master.m3u8" "audio:aac video:h264 video:h264 video:h264"
for i in "${!LADDER[@]}"; do
	read -r name _ <<<"${LADDER[$i]}"
	check "$STAGE/hls/$name/index.m3u8" "video:h264"
done
check "$STAGE/hls/audio/index.m3u8" "audio:aac"
check "$STAGE/hls-byterange/index.m3u8" "video:h264 audio:aac"
check "$STAGE/dash/manifest.mpd" "video:h264 video:h264 video:h264 audio:aac"

# Properties the players and tests rely on.
v=$(ffprobe -v error -select_streams v:0 -show_entries stream=profile,width,height,r_frame_rate -of csv=p=0 "$STAGE/sample.mp4")
[[ $v == "Main,640,360,25/1" ]] || fail "sample.mp4: video is $v, want Main,640,360,25/1"
a=$(ffprobe -v error -select_streams a:0 -show_entries stream=channels,bit_rate -of csv=p=0 "$STAGE/sample.mp4")
[[ $a == 2,9[0-9][0-9][0-9][0-9] ]] || fail "sample.mp4: audio is $a, want 2 channels ~96 kbit/s"
boxes=$(top_boxes "$STAGE/sample.mp4")
[[ $boxes == "ftyp moov "* ]] || fail "sample.mp4: top-level boxes [$boxes], want moov right after ftyp (faststart)"
for f in sample.mp4 sample.mp3; do
	vol=$(ffmpeg -nostdin -i "$STAGE/$f" -map 0:a -af volumedetect -f null - 2>&1 | sed -n 's/.*mean_volume: \(-*[0-9.]*\) dB/\1/p')
	awk -v v="$vol" 'BEGIN{exit !(v > -30)}' || fail "$f: audio mean volume ${vol:-?} dB, want > -30 dB"
done
# Keyframes every GOP/FPS s from the first frame (MPEG-TS starts its clock at
# 1.4 s, so times are taken relative to the first keyframe), in every rendition.
want_kf=$(for ((t = 0; t < DURATION; t += GOP / FPS)); do printf '%d.000 ' "$t"; done)
for v in sample.mp4:0 hls/360p/index.m3u8:0 hls/240p/index.m3u8:0 hls/144p/index.m3u8:0 \
	hls-byterange/index.m3u8:0 dash/manifest.mpd:0 dash/manifest.mpd:1 dash/manifest.mpd:2; do
	kf=$(ffprobe -v error -select_streams "v:${v#*:}" -skip_frame nokey -show_entries frame=pts_time -of csv=p=0 \
		"$STAGE/${v%:*}" | grep -oE '^[0-9.]+' | awk 'NR == 1 {t0 = $1} {printf "%.3f ", $1 - t0}')
	[[ $kf == "$want_kf" ]] || fail "$v: keyframes at [$kf], want every $((GOP / FPS)) s"
done
m=$(ffprobe -v error -show_entries stream=channels,bit_rate:format_tags=title -of csv=p=0 "$STAGE/sample.mp3" | tr '\n' ' ')
[[ $m == "2,128000 p2pmedia sample tone " ]] || fail "sample.mp3: got [$m], want 2 channels, 128 kbit/s, title"
for attr in 'CODECS="avc1.' 'mp4a.40.2' 'RESOLUTION=640x360' 'RESOLUTION=426x240' 'RESOLUTION=256x144' \
	'TYPE=AUDIO,GROUP-ID="group_aud"' 'AUDIO="group_aud"' 'BANDWIDTH=' 'URI="audio/index.m3u8"'; do
	grep -qF "$attr" "$STAGE/hls/master.m3u8" || fail "hls/master.m3u8: no $attr"
done
grep -q '^#EXT-X-BYTERANGE:' "$STAGE/hls-byterange/index.m3u8" || fail "hls-byterange/index.m3u8: no EXT-X-BYTERANGE"
for attr in 'SegmentTimeline' 'media="chunk-$RepresentationID$-$Number%05d$.m4s"' 'width="640"' 'width="426"' \
	'width="256"' 'contentType="audio"' 'type="static"'; do
	grep -qF "$attr" "$STAGE/dash/manifest.mpd" || fail "dash/manifest.mpd: no $attr"
done

echo "== outputs"
printf '  %-16s %6s %10s\n' path files bytes
total=0
for out in sample.mp4 sample.mp3 hls hls-byterange dash; do
	n=$(find "$STAGE/$out" -type f | wc -l)
	b=$(find "$STAGE/$out" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
	total=$((total + b))
	printf '  %-16s %6d %10d\n' "$out" "$n" "$b"
done
printf '  %-16s %6s %10d (%.1f MB; limit 25 MB)\n' total "" "$total" "$(awk -v b="$total" 'BEGIN {print b / 1e6}')"
((total < 25000000)) || fail "outputs total $total bytes, over 25 MB"

((FAIL == 0)) || { echo "generate.sh: verification failed; old outputs left in place" >&2; exit 1; }

# ---- install ----------------------------------------------------------------

for out in sample.mp4 sample.mp3 hls hls-byterange dash; do
	rm -rf "${MEDIA_DIR:?}/$out"
	mv "$STAGE/$out" "$MEDIA_DIR/$out"
done
echo "generate.sh: outputs written to $MEDIA_DIR"
