// Package fhir serves WardWatch's state as a read-only FHIR R4 (4.0.1) API
// in JSON, mapped per domain-requirements §6 ("Interoperability"):
//
//   - Device: tracked assets ("asset-12"; identifiers: asset tag with a
//     system URI, serial number; Device.location = the current room),
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
//     temperature);
//   - Flag: units under "DO NOT USE" quarantine after an excursion;
//   - CapabilityStatement at metadata; searchset Bundles with paging;
//     OperationOutcome for every error.
//
// The package is pure mapping plus an http.Handler: NewHandler reads
// through the small interfaces of Source, which the composition root
// adapts from the stores. It holds no state between requests.
package fhir
