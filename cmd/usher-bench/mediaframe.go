package main

import (
	"encoding/binary"
	"time"

	"github.com/livekit/protocol/livekit"
)

// Synthetic media. Every frame carries a stamp: the publisher's send time (Unix
// nanoseconds, taken just before the frame is handed to the SDK), the frame number
// (shared by the layers of a simulcast track, so a subscriber notices frames it missed
// across a layer switch) and the simulcast layer. The stamp sits after the codec bytes
// an SFU reads:
//
//   - VP8: bytes 0-2 are the frame tag, whose bit 0 is clear on a keyframe (what both
//     servers look at to gate layer switches), bytes 3-9 the keyframe start code and
//     the dimensions; the stamp starts at byte 10 of the frame, so it travels in the
//     first RTP packet of every frame, after the VP8 payload descriptor.
//   - Opus: byte 0 is the TOC byte; the stamp starts at byte 1.
const (
	vp8StampAt  = 10
	opusStampAt = 1
	stampLen    = 13 // send time (8), frame number (4), layer (1)

	videoFPS = 30
	// keyEvery is the keyframe interval in frames (2 s).
	keyEvery = 2 * videoFPS
	// keyRatio is how many times larger than a delta frame a keyframe is.
	keyRatio = 5

	opusFrameDuration = 20 * time.Millisecond
	opusFrameBytes    = 80 // 32 kbit/s
	// opusTOC: CELT fullband, 20 ms, one frame.
	opusTOC = 0xfc
)

// videoFrameDuration is the time between two video frames.
const videoFrameDuration = time.Second / videoFPS

// layerSpec is one video stream a publisher sends: a simulcast layer, or the only
// stream of a plain video track.
type layerSpec struct {
	quality       livekit.VideoQuality
	width, height uint16
	bitrate       int // bit/s, keyframes included
}

// fanoutVideo is the plain (not simulcast) camera of the fan-out load.
var fanoutVideo = layerSpec{quality: livekit.VideoQuality_HIGH, width: 640, height: 360, bitrate: 500_000}

// simulcastLayers are the layers of a simulcast camera, at the bitrates of LiveKit's
// presets (h180, h360, h720), all at 30 fps.
var simulcastLayers = []layerSpec{
	{quality: livekit.VideoQuality_LOW, width: 320, height: 180, bitrate: 160_000},
	{quality: livekit.VideoQuality_MEDIUM, width: 640, height: 360, bitrate: 450_000},
	{quality: livekit.VideoQuality_HIGH, width: 1280, height: 720, bitrate: 1_700_000},
}

// frameSizes returns the sizes of a delta frame and a keyframe that make the layer's
// bitrate at videoFPS with a keyframe every keyEvery frames.
func (l layerSpec) frameSizes() (delta, key int) {
	perInterval := l.bitrate / 8 * keyEvery / videoFPS
	delta = perInterval / (keyEvery - 1 + keyRatio)
	return delta, delta * keyRatio
}

// vp8Frame fills b (which must hold the frame) with a synthetic VP8 frame of size
// bytes and returns it; the stamp is written separately, just before sending.
func vp8Frame(b []byte, size int, key bool, l layerSpec) []byte {
	f := b[:size]
	clear(f[:vp8StampAt])
	f[0] = 0x11 // inter frame, version 0, show_frame
	if key {
		f[0] = 0x10
		f[3], f[4], f[5] = 0x9d, 0x01, 0x2a
		binary.LittleEndian.PutUint16(f[6:], l.width)
		binary.LittleEndian.PutUint16(f[8:], l.height)
	}
	return f
}

// opusFrame fills b with a synthetic Opus frame and returns it.
func opusFrame(b []byte) []byte {
	f := b[:opusFrameBytes]
	f[0] = opusTOC
	return f
}

// putStamp writes the send time, the frame number and the layer at b.
func putStamp(b []byte, sent time.Time, n uint32, layer byte) {
	binary.BigEndian.PutUint64(b, uint64(sent.UnixNano())) //nolint:gosec // G115: a time after 1970
	binary.BigEndian.PutUint32(b[8:], n)
	b[12] = layer
}

// readStamp reads what putStamp wrote.
func readStamp(b []byte) (sent int64, n uint32, layer byte) {
	return int64(binary.BigEndian.Uint64(b)), binary.BigEndian.Uint32(b[8:]), b[12] //nolint:gosec // G115: written from an int64
}
