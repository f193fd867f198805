// Package version holds the build version of Usher.
package version

// Version is the release version; set with -ldflags "-X github.com/usher-rtc/usher/internal/version.Version=…".
var Version = "0.1.0-dev"

// ProtocolVersion is the LiveKit signal protocol version Usher speaks.
const ProtocolVersion = 16

// LiveKitCompatible is the livekit-server version whose behaviour Usher matches; it is
// what clients see as the server version, since SDKs compare it to enable features.
const LiveKitCompatible = "1.13.5"
