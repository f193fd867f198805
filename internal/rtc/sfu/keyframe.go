package sfu

import "strings"

// Codec families the forwarding path knows how to find keyframes in.
const (
	codecOther = iota
	codecVP8
	codecVP9
	codecH264
	codecAV1
	codecH265
)

func codecFamily(mime string) int {
	switch strings.ToLower(mime) {
	case "video/vp8":
		return codecVP8
	case "video/vp9":
		return codecVP9
	case "video/h264":
		return codecH264
	case "video/av1":
		return codecAV1
	case "video/h265":
		return codecH265
	}
	return codecOther
}

// isKeyframeStart reports whether an RTP payload of codec family begins a keyframe: a
// subscriber that joins or resumes can start decoding there. It reads only the
// payload's first bytes and allocates nothing.
func isKeyframeStart(family int, p []byte) bool {
	switch family {
	case codecVP8:
		return vp8Keyframe(p)
	case codecVP9:
		return vp9Keyframe(p)
	case codecH264:
		return h264Keyframe(p)
	case codecAV1:
		return av1Keyframe(p)
	case codecH265:
		return h265Keyframe(p)
	}
	return false
}

// vp8Keyframe reads the VP8 payload descriptor (RFC 7741 §4.2): a keyframe starts in
// the first packet of partition 0 (S set, PID 0) whose payload header has P clear.
func vp8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b0 := p[0]
	if b0&0x10 == 0 || b0&0x07 != 0 { // S, PID
		return false
	}
	i := 1
	if b0&0x80 != 0 { // X: extension byte I L T K
		if len(p) <= i {
			return false
		}
		x := p[i]
		i++
		if x&0x80 != 0 { // I: picture ID, 7 or 15 bits
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	return len(p) > i && p[i]&0x01 == 0
}

// vp9Keyframe reads the VP9 payload descriptor: the start of a frame (B) that is not
// inter-picture predicted (P clear) in the lowest spatial layer.
func vp9Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b0 := p[0]
	if b0&0x40 != 0 || b0&0x08 == 0 { // P set, or not the beginning of a frame
		return false
	}
	if b0&0x20 == 0 { // L clear: no layer indices, so a single spatial layer
		return true
	}
	i := 1
	if b0&0x80 != 0 { // I: picture ID
		if len(p) <= i {
			return false
		}
		if p[i]&0x80 != 0 {
			i++
		}
		i++
	}
	if len(p) <= i {
		return false
	}
	return p[i]&0x0e == 0 // spatial layer id 0
}

// h264Keyframe looks for an IDR slice or a sequence parameter set (RFC 6184): in a
// single NAL unit, the units of a STAP-A, or the first fragment of an FU-A.
func h264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch nal := p[0] & 0x1f; nal {
	case 5, 7:
		return true
	case 24: // STAP-A: 16-bit sizes then units
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i >= len(p) {
				return false
			}
			if t := p[i] & 0x1f; t == 5 || t == 7 {
				return true
			}
			i += size
		}
	case 28: // FU-A: start bit and type in the FU header
		return len(p) > 1 && p[1]&0x80 != 0 && (p[1]&0x1f == 5 || p[1]&0x1f == 7)
	}
	return false
}

// h265Keyframe looks for an IRAP picture or a VPS/SPS (RFC 7798), also inside an
// aggregation packet's first unit or a fragmentation unit's start.
func h265Keyframe(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	irap := func(t byte) bool { return (t >= 16 && t <= 21) || t == 32 || t == 33 }
	switch t := (p[0] >> 1) & 0x3f; t {
	case 48: // aggregation packet: first unit after its 16-bit size
		return len(p) > 4 && irap((p[4]>>1)&0x3f)
	case 49: // fragmentation unit
		return len(p) > 2 && p[2]&0x80 != 0 && irap(p[2]&0x3f)
	default:
		return irap(t)
	}
}

// av1Keyframe reads the AV1 aggregation header: N marks the first packet of a coded
// video sequence, which starts with a keyframe.
func av1Keyframe(p []byte) bool {
	return len(p) > 0 && p[0]&0x08 != 0 && p[0]&0x80 == 0 // N set, Z clear
}
