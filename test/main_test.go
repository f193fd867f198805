package test

import (
	"os"
	"testing"

	protoLogger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func TestMain(m *testing.M) {
	// The SDK logs every connection step; USHER_TEST_LOG=1 shows it with the server's logs.
	if os.Getenv("USHER_TEST_LOG") == "" {
		// A zap logger at error level, not the discard logger: with the latter the
		// SDK's Pion log adapter still formats every debug line, and Pion's onTrack
		// debug line reads a receiver while the SDK's own goroutine configures it (a
		// data race inside the client libraries, reported by -race).
		l, err := protoLogger.NewZapLogger(&protoLogger.Config{Level: "error"})
		if err != nil {
			panic(err)
		}
		lksdk.SetLogger(l)
	}
	os.Exit(m.Run())
}
