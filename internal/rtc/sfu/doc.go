// Package sfu is Usher's media forwarding path: a Receiver reads each published RTP
// stream once and hands every packet to the DownTracks of its subscribers, each of which
// rewrites SSRC, payload type, sequence numbers, timestamps and header extensions for
// its own peer connection and writes it out.
//
// The per-packet path allocates nothing in steady state, starts no goroutine, and never
// touches room state: subscriptions, mutes and pauses are pushed to it (copy-on-write
// subscriber lists, atomics). A subscriber that cannot keep up loses packets; it never
// slows the publisher or the other subscribers.
package sfu
