package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/usher-rtc/usher/internal/config"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// serverFlags are the flags every command that needs a configuration shares. They
// mirror livekit-server's.
type serverFlags struct {
	configFile string
	configBody string
	keys       string
	keyFile    string
	binds      stringList
	nodeIP     string
	udpPort    int
	dev        bool
	checkOnly  bool
}

func (f *serverFlags) register(fs *flag.FlagSet, withCheck bool) {
	fs.StringVar(&f.configFile, "config", "", "path to a YAML `file` with the server configuration")
	fs.StringVar(&f.configBody, "config-body", "", "the configuration as a YAML `string` (env LIVEKIT_CONFIG)")
	fs.StringVar(&f.keys, "keys", "", "API keys as `\"key: secret\"` pairs, one per line (env LIVEKIT_KEYS)")
	fs.StringVar(&f.keyFile, "key-file", "", "path to a `file` of \"key: secret\" lines; must not be readable by group or others")
	fs.Var(&f.binds, "bind", "IP `address` to listen on; repeat for several (default: all addresses; 127.0.0.1 with --dev)")
	fs.StringVar(&f.nodeIP, "node-ip", "", "IP `address` advertised to clients in ICE candidates (env NODE_IP)")
	fs.IntVar(&f.udpPort, "udp-port", 0, "the one UDP `port` for all WebRTC traffic (env UDP_PORT; default 7882)")
	fs.BoolVar(&f.dev, "dev", false, "development mode: key devkey / secret, debug logs, listen on 127.0.0.1")
	if withCheck {
		fs.BoolVar(&f.checkOnly, "check-config", false, "validate the configuration, print a summary and exit")
	}
}

// load builds the validated Config: defaults, the config file, the config body, then
// environment and flags, then --dev defaults, then validation.
func (f *serverFlags) load(getenv func(string) string) (*config.Config, []string, error) {
	body := f.configBody
	if body == "" {
		body = getenv("LIVEKIT_CONFIG")
	}
	cfg, warnings, err := config.Load(config.LoadOptions{File: f.configFile, Body: body})
	if err != nil {
		return nil, nil, err
	}

	keys := f.keys
	if keys == "" {
		keys = getenv("LIVEKIT_KEYS")
	}
	if keys != "" {
		parsed, err := config.ParseKeys(keys)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: --keys / LIVEKIT_KEYS: %w", config.ErrInvalid, err)
		}
		cfg.Keys, cfg.KeyFile = parsed, ""
	}
	if f.keyFile != "" {
		cfg.KeyFile, cfg.Keys = f.keyFile, nil
	}
	if len(f.binds) > 0 {
		cfg.BindAddresses = append([]string(nil), f.binds...)
	}
	nodeIP := f.nodeIP
	if nodeIP == "" {
		nodeIP = getenv("NODE_IP")
	}
	if nodeIP != "" {
		cfg.RTC.NodeIP = nodeIP
	}
	if f.udpPort != 0 {
		cfg.RTC.UDPPort = f.udpPort
	} else if v := getenv("UDP_PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: UDP_PORT=%q is not a port number", config.ErrInvalid, v)
		}
		cfg.RTC.UDPPort = p
	}
	if v := getenv("AUTH_REQUIRED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: AUTH_REQUIRED=%q is not true or false", config.ErrInvalid, v)
		}
		cfg.REST.AuthRequired = b
	}
	if f.dev || cfg.Development {
		cfg.ApplyDev()
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	return cfg, warnings, nil
}

// parseFlags parses args into fs, printing usage to out on -h. It returns errHelp when
// help was asked for.
func parseFlags(fs *flag.FlagSet, args []string, out io.Writer) error {
	fs.SetOutput(out)
	if fs.Usage == nil || fs.Name() != "usher" {
		fs.Usage = func() {
			fmt.Fprintf(out, "Usage: usher %s [flags]\n\nFlags:\n", fs.Name())
			printFlags(out, fs)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	return nil
}

var errHelp = errors.New("help requested")

// osGetenv is the environment lookup used outside tests.
var osGetenv = os.Getenv

// printFlags lists the flags of fs in GNU style (--name VALUE), aligned.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	type line struct{ left, usage string }
	var lines []line
	width := 0
	fs.VisitAll(func(fl *flag.Flag) {
		name, usage := flag.UnquoteUsage(fl)
		left := "  --" + fl.Name
		if name != "" {
			left += " " + strings.ToUpper(name)
		}
		if d := fl.DefValue; d != "" && d != "0" && d != "false" && d != "[]" {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		width = max(width, len(left))
		lines = append(lines, line{left, usage})
	})
	for _, l := range lines {
		fmt.Fprintf(w, "%-*s  %s\n", width, l.left, l.usage)
	}
}
