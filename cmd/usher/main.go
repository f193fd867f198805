// Command usher is a self-hosted realtime room server that speaks LiveKit's protocols.
package main

import (
	"os"

	"github.com/usher-rtc/usher/internal/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr))
}
