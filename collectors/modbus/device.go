package modbus

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Transports.
const (
	TransportTCP        = "tcp"          // Modbus TCP (MBAP framing)
	TransportRTU        = "rtu"          // Modbus RTU on a local serial port (RS-485/RS-232)
	TransportRTUOverTCP = "rtu-over-tcp" // RTU frames tunnelled through a TCP serial gateway
)

// Device defaults, applied where a field is zero.
const (
	DefaultInterval = time.Minute
	DefaultTimeout  = 3 * time.Second
	DefaultBaud     = 9600
	DefaultDataBits = 8
	DefaultParity   = "N"
	DefaultStopBits = 1
)

// Limits of a device's schedule.
const (
	MinInterval = 100 * time.Millisecond
	MaxInterval = 24 * time.Hour
	MinTimeout  = 10 * time.Millisecond
	MaxTimeout  = time.Minute
)

// Device is one Modbus device to poll, as an admin configured it.
type Device struct {
	ID   int64
	Name string // readings are "<Name>/<field name>"
	// Transport is "tcp", "rtu" or "rtu-over-tcp".
	Transport string
	// Address is host:port for tcp and rtu-over-tcp, the serial device
	// path (/dev/ttyUSB0) for rtu.
	Address string
	// Serial line settings, rtu only; zero means 9600 8N1. Devices on one
	// serial port must agree on them (and on Timeout).
	Baud     int
	DataBits int
	Parity   string // "N", "E" or "O"
	StopBits int
	// UnitID is the Modbus slave address: 1–247 on a serial bus; on Modbus
	// TCP also 0 or 255, which many devices expect when they are not behind
	// a gateway.
	UnitID   byte
	Profile  string        // the profile's name
	Interval time.Duration // between polls; 0 means DefaultInterval
	Timeout  time.Duration // per request; 0 means DefaultTimeout
	Enabled  bool
}

func (d Device) interval() time.Duration {
	if d.Interval == 0 {
		return DefaultInterval
	}
	return d.Interval
}

func (d Device) timeout() time.Duration {
	if d.Timeout == 0 {
		return DefaultTimeout
	}
	return d.Timeout
}

// serialConfig is the line settings with defaults applied.
func (d Device) serialConfig() (baud, dataBits int, parity string, stopBits int) {
	baud, dataBits, parity, stopBits = d.Baud, d.DataBits, strings.ToUpper(d.Parity), d.StopBits
	if baud == 0 {
		baud = DefaultBaud
	}
	if dataBits == 0 {
		dataBits = DefaultDataBits
	}
	if parity == "" {
		parity = DefaultParity
	}
	if stopBits == 0 {
		stopBits = DefaultStopBits
	}
	return
}

// busKey identifies the bus a device sits on: devices with the same key
// share one connection and are asked one request at a time.
func (d Device) busKey() string {
	addr := d.Address
	if d.Transport != TransportRTU {
		addr = strings.ToLower(addr)
	}
	return d.Transport + " " + addr
}

// baudRates are the rates goburrow/serial supports that RS-485 devices use.
var baudRates = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}

// Validate checks the device's settings; errors (*wardwatch.Error,
// EINVALID) name the setting at fault.
func (d Device) Validate() error {
	switch {
	case strings.TrimSpace(d.Name) == "":
		return invalidf("device: name is required")
	case len(d.Name) > 100:
		return invalidf("device %q: name is longer than 100 characters", d.Name)
	case strings.ContainsRune(d.Name, '/'):
		return invalidf("device %q: name must not contain '/' (readings are named <device>/<field>)", d.Name)
	case strings.IndexFunc(d.Name, unicode.IsControl) >= 0:
		return invalidf("device %q: name must not contain control characters", d.Name)
	}
	p := fmt.Sprintf("device %q", d.Name)
	switch d.Transport {
	case TransportTCP, TransportRTUOverTCP:
		host, port, err := net.SplitHostPort(d.Address)
		if err != nil || host == "" {
			return invalidf("%s: address %q must be host:port (10.20.0.15:502)", p, d.Address)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return invalidf("%s: address %q: port must be 1…65535", p, d.Address)
		}
		if d.Baud != 0 || d.DataBits != 0 || d.Parity != "" || d.StopBits != 0 {
			return invalidf("%s: baud, data bits, parity and stop bits apply only to transport rtu (a gateway's serial side is set on the gateway)", p)
		}
	case TransportRTU:
		if !strings.HasPrefix(d.Address, "/") {
			return invalidf("%s: address %q must be a serial device path (/dev/ttyUSB0)", p, d.Address)
		}
		baud, dataBits, parity, stopBits := d.serialConfig()
		if !slices.Contains(baudRates, baud) {
			return invalidf("%s: baud %d is not one of %v", p, baud, baudRates)
		}
		if dataBits != 7 && dataBits != 8 {
			return invalidf("%s: data bits %d must be 7 or 8", p, dataBits)
		}
		if parity != "N" && parity != "E" && parity != "O" {
			return invalidf("%s: parity %q must be N, E or O", p, d.Parity)
		}
		if stopBits != 1 && stopBits != 2 {
			return invalidf("%s: stop bits %d must be 1 or 2", p, stopBits)
		}
	default:
		return invalidf("%s: transport %q must be tcp, rtu or rtu-over-tcp", p, d.Transport)
	}
	if d.Transport != TransportTCP && (d.UnitID < 1 || d.UnitID > 247) {
		return invalidf("%s: unit id %d must be 1…247 on a serial bus (0 is broadcast, which never answers)", p, d.UnitID)
	}
	if d.Profile == "" {
		return invalidf("%s: profile is required", p)
	}
	if iv := d.interval(); iv < MinInterval || iv > MaxInterval {
		return invalidf("%s: interval %s is outside %s…%s", p, iv, MinInterval, MaxInterval)
	}
	if t := d.timeout(); t < MinTimeout || t > MaxTimeout {
		return invalidf("%s: timeout %s is outside %s…%s", p, t, MinTimeout, MaxTimeout)
	}
	return nil
}
