// Package fhir serves WardWatch's state as a read-only FHIR R4 (4.0.1) API
// in JSON, mapped per domain-requirements §6 ("Interoperability"):
//
//   - Device: tracked assets ("asset-12"; identifiers: asset tag with a
//     system URI, serial number, and the UDI device identifier with its
//     issuing agency's naming system as the system; udiCarrier with the DI,
//     issuer, human-readable form and entryType "manual" (jurisdiction left
//     out: WardWatch does not know it); manufacturer; modelNumber and a
//     model-name deviceName from the asset, the model an infusion pump
//     reports winning for modelNumber; Device.location = the current room),
//     infusion pumps that match no asset ("pump-<serial>"), monitored units
//     ("unit-3"), Modbus devices ("modbus-1") and their channels
//     ("channel-1.cabinet", parent = the Modbus device);
//   - Location: site › building › floors ("floor-1") › zones ("zone-40"),
//     linked by partOf, with location-physical-type codes si, bu, lvl, ro,
//     co and area;
//   - DeviceMetric: one per sensor channel, unit in UCUM, calibration state
//     from the device's calibration due date;
//   - Observation: sensor readings, latest or historical, valueQuantity in
//     UCUM (or valueBoolean for door and alarm states), coded with the
//     local metric code system (LOINC 60832-3 only for a room's own air
//     temperature), category "environment";
//   - Flag: units under "DO NOT USE" quarantine after an excursion;
//   - Device search by identifier ("<issuer>|<UDI-DI>" finds an asset by
//     its UDI), udi-di, udi-carrier, manufacturer and model (R4's string
//     parameters: starts with, case-insensitive), type, location, status,
//     parent;
//   - CapabilityStatement at metadata; searchset Bundles with paging;
//     OperationOutcome for every error.
//
// Tags and pumps report readings about themselves too: a BLE tag its
// temperature, humidity and battery (Eddystone-TLM and sensor tags; sensor
// ID = the tag ID), an infusion pump its battery level (sensor ID
// "pump:<serial>"). Each such sensor and metric is a channel like a Modbus
// channel's, with the same codes, category and units, except that:
//
//   - it has no Device of its own: Observation.device and
//     DeviceMetric.source are the Device of the asset the tag is fixed to,
//     or of the pump (its asset when an asset has its serial, else
//     "pump-<serial>"); there is no subject;
//   - ids are "channel-tag.<tag ID>.<metric>" and
//     "channel-pump.<serial>.<metric>" (escaped as in other ids, hashed when
//     long), and "obs-tag.….<unix ms>" for its readings, like a Modbus
//     channel's "obs-<device>.<channel>.<unix ms>"; they depend on the tag
//     or serial only;
//   - DeviceMetric calibration is "unspecified" and operationalStatus is
//     left out: WardWatch tracks neither for tags or pump batteries;
//   - a channel is listed (DeviceMetric, latest Observations, history
//     searches without device) once it has reported since WardWatch
//     started, as pumps are; its stored history is also found, after a
//     restart, through device (the asset, the pump or the DeviceMetric) or
//     an Observation id;
//   - readings of a tag fixed to no asset, or of a pump WardWatch knows no
//     Device for, are left out: there is no Device to attribute them to.
//     Readings before a tag moved to another asset are shown on its current
//     asset, as the store keeps readings by tag, not by asset.
//
// Observation searches take WardWatch's own location parameter (definition
// under LocalSearchParameterBase): where the measuring device is now, that
// is a Modbus channel's unit's zone, or the current zone (or floor) of a
// tag's or pump's asset.
//
// The package is pure mapping plus an http.Handler: NewHandler reads
// through the small interfaces of Source, which the composition root
// adapts from the stores. It holds no state between requests.
package fhir
