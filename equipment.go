package wardwatch

import "time"

// UnitProfile names the kind of a monitored unit, which decides the
// ranges and rules it is judged by (see the alerts package): a vaccine
// fridge is held to 2–8 °C, an airborne-infection isolation room to a
// negative pressure.
type UnitProfile string

// Unit profiles, after domain-requirements §1–2.
const (
	ProfileVaccineFridge   UnitProfile = "vaccine_fridge"
	ProfileVaccineFreezer  UnitProfile = "vaccine_freezer"
	ProfileUltraColdFreeze UnitProfile = "ultra_cold_freezer"
	ProfilePharmacyFridge  UnitProfile = "pharmacy_fridge"
	ProfilePharmacyFreezer UnitProfile = "pharmacy_freezer"
	ProfileBloodFridge     UnitProfile = "blood_bank_fridge"
	ProfilePlasmaFreezer   UnitProfile = "plasma_freezer"
	ProfileLabFridge       UnitProfile = "lab_fridge"
	ProfileCRTRoom         UnitProfile = "crt_room"
	ProfileOperatingRoom   UnitProfile = "operating_room"
	ProfileIsolationRoom   UnitProfile = "aii_room" // airborne-infection isolation: negative
	ProfileProtectiveRoom  UnitProfile = "pe_room"  // protective environment: positive
	ProfileCompounding     UnitProfile = "compounding_room"
)

// UnitProfiles lists every profile with its name as users read it.
func UnitProfiles() []struct {
	Profile UnitProfile
	Label   string
} {
	return []struct {
		Profile UnitProfile
		Label   string
	}{
		{ProfileVaccineFridge, "Vaccine refrigerator (2–8 °C)"},
		{ProfileVaccineFreezer, "Vaccine freezer (−50 to −15 °C)"},
		{ProfileUltraColdFreeze, "Ultra-cold freezer (−80 to −60 °C)"},
		{ProfilePharmacyFridge, "Pharmacy refrigerator (2–8 °C)"},
		{ProfilePharmacyFreezer, "Pharmacy freezer (−25 to −10 °C)"},
		{ProfileBloodFridge, "Blood bank refrigerator (1–6 °C)"},
		{ProfilePlasmaFreezer, "Plasma freezer (≤ −18 °C)"},
		{ProfileLabFridge, "Laboratory refrigerator (2–8 °C)"},
		{ProfileCRTRoom, "Controlled room temperature (20–25 °C)"},
		{ProfileOperatingRoom, "Operating room (positive, 20–60 %RH)"},
		{ProfileIsolationRoom, "Airborne-infection isolation room (negative)"},
		{ProfileProtectiveRoom, "Protective-environment room (positive)"},
		{ProfileCompounding, "Compounding room (USP 797/800)"},
	}
}

// Valid reports whether p is a known profile.
func (p UnitProfile) Valid() bool {
	for _, q := range UnitProfiles() {
		if q.Profile == p {
			return true
		}
	}
	return false
}

// MonitoredUnit is a fridge, freezer or room whose environment WardWatch
// watches: the sensors bound to it are judged by its profile.
type MonitoredUnit struct {
	ID      int64
	Name    string // "Pharmacy vaccine fridge 2"
	Profile UnitProfile
	ZoneID  int64 // the room it is in or is; 0 when not placed
}

// ModbusDevice is a Modbus controller or transmitter WardWatch polls,
// read-only. Its readings' sensor IDs are "<Name>/<channel>".
type ModbusDevice struct {
	ID        int64
	Name      string // unique; part of every sensor ID
	UnitID    int64  // the monitored unit its channels measure; 0: none
	Transport string // "tcp", "rtu" (serial) or "rtu-over-tcp"
	Address   string // host:port, or a serial device path
	Baud      int    // serial only
	DataBits  int
	Parity    string // "N", "E" or "O"
	StopBits  int
	SlaveID   int    // Modbus unit identifier, 0–247
	Profile   string // register-map profile name
	Interval  time.Duration
	Timeout   time.Duration
	Enabled   bool
	// CalibrationDue is when the calibration certificate of the device's
	// probes runs out (CDC: calibration tested every 2–3 years); zero: not
	// tracked. WardWatch warns ahead of it and alarms after it.
	CalibrationDue time.Time
}

// SNMPTarget is a pump or pump server WardWatch polls over SNMP,
// read-only. Community, AuthPassword and PrivPassword are secrets: stored
// sealed and never shown back.
type SNMPTarget struct {
	ID           int64
	Name         string
	Address      string // host or host:port (161)
	Version      string // "v3" (default), "v2c" or "v1": v1/v2c only when an admin opts in
	Community    string
	User         string
	AuthProtocol string // SHA, SHA224, SHA256, SHA384, SHA512
	AuthPassword string
	PrivProtocol string // AES, AES192, AES256, AES192C, AES256C
	PrivPassword string
	Profile      string // pump profile name
	Interval     time.Duration
	Timeout      time.Duration
	Retries      int
	Enabled      bool
}

// Insecure reports whether t uses SNMP v1 or v2c (clear-text community).
func (t SNMPTarget) Insecure() bool { return t.Version == "v1" || t.Version == "v2c" }

// DeviceProfile is an admin-defined collector profile: a Modbus register
// map or an SNMP pump profile, kept as its YAML source.
type DeviceProfile struct {
	Kind   string // "modbus" or "snmp"
	Name   string
	Source []byte
}

// SecretBox seals secrets for storage and opens them again.
type SecretBox interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// RFIDReader is a fixed UHF reader. Each antenna watches one zone: its
// reads place a tag there, through a room-anchor gateway WardWatch keeps
// for the antenna (key "<reader key>#<port>"). A door (portal) reader
// also turns the order of reads on its inside and outside antennas into
// zone crossings.
type RFIDReader struct {
	ID        int64
	Key       string // the reader's name in push URLs and poll targets; no '#'
	Name      string
	TokenHash []byte // SHA-256 of its push token; nil: it cannot push
	Format    string // "" (detect), "wardwatch", "zebra" or "impinj"
	Antennas  []RFIDAntenna
	Portal    *RFIDPortal
}

// RFIDAntenna is one antenna port of a reader and the zone it watches.
type RFIDAntenna struct {
	Port      int
	ZoneID    int64
	GatewayID int64 // the anchor gateway standing for it (set by the store)
}

// RFIDPortal says which antennas of a door reader face in and out.
type RFIDPortal struct {
	Inside, Outside             []int
	InsideZoneID, OutsideZoneID int64
}

// PollTarget is a gateway or RFID reader that WardWatch polls over HTTP
// because it only offers a pull API. AuthHeader (the value of the
// Authorization header) is a secret: stored sealed, never shown back.
type PollTarget struct {
	ID         int64
	Name       string
	URL        string
	Source     string // "ble": the body is a gateway batch; "rfid": reader reads
	Key        string // the gateway's or reader's key its data belongs to
	Format     string // the body's format; "" detects
	Interval   time.Duration
	Timeout    time.Duration
	AuthHeader string
	Enabled    bool
}
