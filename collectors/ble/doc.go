// Package ble ingests BLE tag sightings from gateways: the WardWatch batch
// format and the Minew JSON-LONG and Ingics formats pushed over HTTP, and
// the ESPresense, OpenMQTTGateway/Theengs and Home Assistant mqtt_room
// messages that arrive over MQTT (see package collectors/mqtt), with raw
// advertisements decoded (iBeacon, AltBeacon, Eddystone UID and TLM).
// FORMAT.md describes the WardWatch batch format with examples;
// VENDOR_FORMATS.md the vendor formats, identities and limits.
//
// # Endpoint
//
// A gateway pushes batches to
//
//	POST /ingest/v1/gateways/{gateway}/sightings
//	Authorization: Bearer <token>
//
// where {gateway} is its key (Gateway.Key, e.g. "f1-gw-03" or a MAC) and
// <token> its own push token; WardWatch stores only the token's SHA-256
// (Gateway.TokenHash). An unknown gateway and a wrong token get the same
// 401 answer.
//
// # Body
//
// Either Content-Type: application/json, an object with a "sightings"
// array (other members are ignored):
//
//	{"sightings":[
//	  {"ts":"2025-03-01T10:15:02.250Z","tag":"ibeacon:5b1e0a7c-3d2f-4e6a-9c1b-7a8d2e4f6c30:4:12","rssi":-67,"tx_power":-59},
//	  {"ts":1740824102.5,"tag":"mac:C0FFEE000001","rssi":-80}
//	]}
//
// or Content-Type: application/x-ndjson (application/ndjson is accepted
// too), one sighting object per line; blank lines are skipped:
//
//	{"ts":"2025-03-01T10:15:02.250Z","tag":"eddystone:EDD1EBEAC04E5DEFA017:0BDB87539B67","rssi":-71}
//	{"tag":"epc:3034257bf7194e4000001a85","rssi":-58}
//
// A batch holds at most 10000 items and the body at most 1 MiB (by
// default). Content-Encoding (gzip…) is not supported.
//
// # Sighting members
//
//   - ts: when the tag was heard, an RFC 3339 string or a number of seconds
//     since the Unix epoch (fractions allowed, microsecond resolution).
//     Absent or null means the time of receipt. A time more than 5 minutes
//     in the future or more than 1 hour in the past is rejected.
//   - tag: the tag's identity, required, in one of the schemes
//     ibeacon:<uuid>:<major>:<minor> (uuid 32 hex digits, bare or dashed),
//     eddystone:<20 hex namespace>:<12 hex instance>, epc:<hex> or
//     mac:<12 hex> (bare, or pairs separated by ':' or '-'). It is
//     normalised to lowercase canonical form: see NormalizeTagID.
//   - rssi: received signal strength in dBm, a number in [-130, 0],
//     required.
//   - tx_power: the tag's advertised RSSI at 1 m in dBm, a number in
//     [-100, 20], optional.
//
// Unknown members are ignored.
//
// # Answers
//
// Items are validated one by one. The good items of a partly bad batch are
// kept; each bad one is reported by its 0-based index (in NDJSON, among
// the non-blank lines) and a reason:
//
//	202 {"accepted":2,"rejected":1,"errors":[{"index":1,"error":"rssi: must be between -130 and 0 dBm"}]}
//
// The answer lists at most the first 20 item errors. Other answers are
// 400 (malformed body, or no usable item in a non-empty batch), 401,
// 413 (body too large), 415 (other content type), 503 (WardWatch is
// overloaded: retry later) and 500, each with a JSON body
// {"error":"…"}.
package ble
