// Package modbus polls fridges, freezers, room transmitters and pressure
// monitors over Modbus and turns their registers into WardWatch readings.
// It is read-only: it sends function codes 1–4 (read coils, discrete
// inputs, holding registers, input registers) and no write function code
// appears anywhere in it.
//
// # Profiles
//
// A Profile is a device model's register map: Fields with a table, a
// 0-based protocol address, a type (int16, uint16, int32, uint32, float32,
// float64, bit) and byte order (ABCD, DCBA, BADC, CDAB), a scale and offset,
// and the unit the device reports in, which the collector converts to the
// metric's unit (°C, Pa, %RH). Profiles are YAML (ParseProfile,
// Profile.YAML); BuiltinProfiles models a few real devices. Plan merges
// fields of the same table into as few reads as the protocol allows.
//
// # Transports and faults
//
// Devices speak Modbus TCP, RTU on a serial port (goburrow's RTU handler
// and goburrow/serial), or RTU through a TCP serial gateway ("rtu-over-tcp",
// goburrow's RTU packager over a transporter of ours). Devices with the
// same transport and address share one bus: one connection, one request
// at a time, a device's reads back to back.
//
// goburrow/modbus v0.1.0 never reconnects, and a reply that arrives after
// a timeout stays in the socket and is taken for the answer to the next
// request, forever. So after any timeout, connection or protocol error the
// collector closes the connection and the next poll opens a new one;
// unreachable devices are retried with exponential backoff. A Modbus
// exception fails only the fields of its read, with a message that says
// what to check (ExceptionMessage). NaN, infinite and fault values are
// errors of their field, never readings.
//
// # Metrics
//
//	wardwatch_modbus_polls_total{result}          ok, exception, timeout, error
//	wardwatch_modbus_poll_duration_seconds        time a poll holds its bus
//	wardwatch_modbus_devices_online               devices whose polls succeed
//	wardwatch_modbus_devices                      devices being polled
//	wardwatch_modbus_reconnects_total             connections reopened after a failure
//	wardwatch_modbus_field_errors_total{reason}   values rejected: not_finite, fault_value, not_state, length
//	wardwatch_modbus_submit_errors_total          reading batches the sink refused
package modbus
