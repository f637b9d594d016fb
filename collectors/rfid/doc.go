// Package rfid ingests tag reads from fixed UHF RFID readers and turns
// them into what the rest of WardWatch understands: proximity sightings at
// the zone of the antenna that read the tag, and, for door (portal)
// readers, zone crossings.
//
// The path of a read:
//
//	reader ──POST /ingest/v1/readers/{reader}/reads──► NewPushHandler ─┐
//	reader ◄──GET (collectors/httppoll)──► NewPollHandler ─────────────┤ Parse: []Read
//	                                                                   ▼
//	                                                   Router (a Sink)
//	                                       ToSightings │        │ PortalTracker
//	                                                   ▼        ▼
//	                         location engine (sightings)   zone changes (door crossings)
//
// Three body formats are understood (FORMAT.md documents them, with the
// vendor field names relied on):
//
//   - FormatWardWatch, WardWatch's own: {"reader":…,"reads":[{"epc":…,
//     "antenna":…,"rssi":…,"time":…}]} or one read per NDJSON line;
//   - FormatZebra, Zebra FX-series IoT Connector tag data events
//     ({"data":{"idHex":…,"antenna":…,"peakRssi":…},"timestamp":…,
//     "type":"SIMPLE"}), single, in arrays, NDJSON or concatenated;
//   - FormatImpinj, Impinj IoT device interface events
//     ({"eventType":"tagInventory","tagInventoryEvent":{"epcHex":…,
//     "antennaPort":…,"peakRssiCdbm":…}}), NDJSON or arrays, with the EPC
//     in hex or base64.
//
// Every parser bounds its input (MaxBodyBytes, MaxItems), keeps the good
// items of a partly bad body and reports each bad one by index with a
// reason. A tag's identity is "epc:" and its EPC in lowercase hex
// (TagID), the shape the BLE collector gives EPC identities.
//
// Proximity: each antenna stands for a gateway declared as a room anchor
// (wardwatch.Gateway.AnchorZoneID); ToSightings gives every read the RSSI
// that puts the tag about 1 m from that gateway, so the location engine
// places it in the antenna's room.
//
// Portals: PortalTracker is pure (time passed in, no goroutines) and
// decides one crossing per pass of a tag through a door, from the order of
// its first and last reads on the inside and outside antennas.
package rfid
