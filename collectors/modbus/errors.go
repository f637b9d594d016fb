package modbus

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	mb "github.com/goburrow/modbus"
	"github.com/goburrow/serial"
)

// Modbus exception codes (application protocol v1.1b3, §7).
const (
	ExceptionIllegalFunction    = 1
	ExceptionIllegalDataAddress = 2
	ExceptionIllegalDataValue   = 3
	ExceptionDeviceFailure      = 4
	ExceptionAcknowledge        = 5
	ExceptionBusy               = 6
	ExceptionMemoryParity       = 8
	ExceptionGatewayPath        = 10
	ExceptionGatewayTarget      = 11
)

// ExceptionError is a Modbus exception response: the device answered but
// refused the request.
type ExceptionError struct {
	Function byte // the request's function code
	Code     byte
}

func (e *ExceptionError) Error() string { return ExceptionMessage(e.Code) }

// ExceptionMessage explains an exception code to the people who configure
// devices.
func ExceptionMessage(code byte) string {
	switch code {
	case ExceptionIllegalFunction:
		return "exception 1 (illegal function): the device does not support reading this table; check the field's table"
	case ExceptionIllegalDataAddress:
		return "exception 2 (illegal data address): the device has no such register; check the profile's addresses (0-based protocol address vs 1-based register number) and table"
	case ExceptionIllegalDataValue:
		return "exception 3 (illegal data value): the device rejected the read's address or quantity; check the profile's addresses and types"
	case ExceptionDeviceFailure:
		return "exception 4 (server device failure): the device failed while reading; check the device itself"
	case ExceptionAcknowledge:
		return "exception 5 (acknowledge): the device is processing a long command and sent no data; will retry"
	case ExceptionBusy:
		return "exception 6 (server device busy): the device is busy; will retry"
	case ExceptionMemoryParity:
		return "exception 8 (memory parity error): the device reported a memory fault"
	case ExceptionGatewayPath:
		return "exception 10 (gateway path unavailable): the gateway has no route to this unit id; check the gateway's configuration"
	case ExceptionGatewayTarget:
		return "exception 11 (gateway target device failed to respond): the device behind the gateway did not answer; check the unit id, wiring and serial settings"
	}
	return fmt.Sprintf("exception %d: the device refused the request with an unknown exception code", code)
}

// errKind classifies the outcome of a request; it is also the result label
// of wardwatch_modbus_polls_total.
type errKind int

const (
	kindOK errKind = iota
	kindException
	kindTimeout
	kindError
)

func (k errKind) String() string {
	switch k {
	case kindOK:
		return "ok"
	case kindException:
		return "exception"
	case kindTimeout:
		return "timeout"
	}
	return "error"
}

// classify sorts a request's error. Timeouts and every connection or
// protocol error leave the connection unusable (a late reply would be read
// as the answer to the next request); exceptions do not.
func classify(err error) errKind {
	var ex *ExceptionError
	var ne net.Error
	switch {
	case err == nil:
		return kindOK
	case errors.As(err, &ex):
		return kindException
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, serial.ErrTimeout),
		errors.As(err, &ne) && ne.Timeout():
		return kindTimeout
	}
	return kindError
}

// fromLibrary turns goburrow's exception error into ours.
func fromLibrary(err error) error {
	var me *mb.ModbusError
	if errors.As(err, &me) {
		return &ExceptionError{Function: me.FunctionCode &^ 0x80, Code: me.ExceptionCode}
	}
	return err
}

// connectError is a failure to open the connection (dial or open the
// serial port), as opposed to a failed request.
type connectError struct{ err error }

func (e *connectError) Error() string { return "connect: " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// describe is an error's text for people: the device's status line and the
// admin UI.
func describe(err error, d Device) string {
	var ex *ExceptionError
	var ce *connectError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ex):
		return ex.Error()
	case errors.As(err, &ce) && errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection to %s refused: nothing listens there", d.Address)
	case errors.As(err, &ce) && classify(err) == kindTimeout:
		return fmt.Sprintf("cannot connect to %s within %s", d.Address, d.timeout())
	case errors.As(err, &ce):
		return fmt.Sprintf("cannot connect to %s: %v", d.Address, ce.err)
	case classify(err) == kindTimeout:
		return fmt.Sprintf("no answer from %s unit %d within %s", d.Address, d.UnitID, d.timeout())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fmt.Sprintf("%s closed the connection", d.Address)
	}
	return err.Error()
}
