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
		lksdk.SetLogger(protoLogger.GetDiscardLogger())
	}
	os.Exit(m.Run())
}
