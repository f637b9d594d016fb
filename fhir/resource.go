package fhir

import "encoding/json"

// This file holds the FHIR R4 (4.0.1) data types and resources the package
// emits, with only the elements it uses. JSON names are exactly R4's
// (https://hl7.org/fhir/R4/); empty elements are left out, as FHIR requires
// (no nulls, no empty arrays or objects).

// Coding is a code from a code system (R4 datatypes §2.24.0.3).
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is a concept given as codings and/or text.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Reference points at another resource by relative URL ("Location/zone-4").
type Reference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

// Identifier is a business identifier of a resource.
type Identifier struct {
	Use    string           `json:"use,omitempty"`
	Type   *CodeableConcept `json:"type,omitempty"`
	System string           `json:"system,omitempty"`
	Value  string           `json:"value,omitempty"`
}

// Quantity is a measured amount with a UCUM unit.
type Quantity struct {
	Value  json.Number `json:"value,omitempty"`
	Unit   string      `json:"unit,omitempty"`
	System string      `json:"system,omitempty"`
	Code   string      `json:"code,omitempty"`
}

// Period is a time range; End is empty while it is ongoing.
type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// Annotation is a text note.
type Annotation struct {
	Time string `json:"time,omitempty"`
	Text string `json:"text"`
}

// Extension is a FHIR extension; the package uses dateTime values only.
type Extension struct {
	URL           string `json:"url"`
	ValueDateTime string `json:"valueDateTime,omitempty"`
}

// Meta holds a resource's last update time.
type Meta struct {
	LastUpdated string `json:"lastUpdated,omitempty"`
}

// Device is an R4 Device (https://hl7.org/fhir/R4/device.html): a tracked
// asset, an infusion pump, a monitored unit, a Modbus device or one of its
// channels (domain-requirements §6.1).
type Device struct {
	ResourceType string           `json:"resourceType"`
	ID           string           `json:"id"`
	Meta         *Meta            `json:"meta,omitempty"`
	Identifier   []Identifier     `json:"identifier,omitempty"`
	UDICarrier   []UDICarrier     `json:"udiCarrier,omitempty"`
	Status       string           `json:"status,omitempty"`
	Manufacturer string           `json:"manufacturer,omitempty"`
	SerialNumber string           `json:"serialNumber,omitempty"`
	DeviceName   []DeviceName     `json:"deviceName,omitempty"`
	ModelNumber  string           `json:"modelNumber,omitempty"`
	Type         *CodeableConcept `json:"type,omitempty"`
	Version      []DeviceVersion  `json:"version,omitempty"`
	Location     *Reference       `json:"location,omitempty"`
	Note         []Annotation     `json:"note,omitempty"`
	Parent       *Reference       `json:"parent,omitempty"`
}

// UDICarrier is a device's Unique Device Identifier as carried on its
// label (R4 Device.udiCarrier): the device identifier, the issuing
// agency's naming system, the human-readable form and how it was entered.
// Jurisdiction is left out unless known.
type UDICarrier struct {
	DeviceIdentifier string `json:"deviceIdentifier,omitempty"`
	Issuer           string `json:"issuer,omitempty"`
	Jurisdiction     string `json:"jurisdiction,omitempty"`
	CarrierHRF       string `json:"carrierHRF,omitempty"`
	EntryType        string `json:"entryType,omitempty"` // barcode | rfid | manual | card | self-reported | unknown
}

// DeviceName is one of a device's names.
type DeviceName struct {
	Name string `json:"name"`
	Type string `json:"type"` // udi-label-name | user-friendly-name | patient-reported-name | manufacturer-name | model-name | other
}

// DeviceVersion is one version of a device's software or firmware.
type DeviceVersion struct {
	Type  *CodeableConcept `json:"type,omitempty"`
	Value string           `json:"value"`
}

// Location is an R4 Location (https://hl7.org/fhir/R4/location.html): the
// site, building, floors and zones (rooms, corridors…).
type Location struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Status       string            `json:"status,omitempty"` // active | suspended | inactive
	Name         string            `json:"name,omitempty"`
	Mode         string            `json:"mode,omitempty"` // instance | kind
	Type         []CodeableConcept `json:"type,omitempty"`
	PhysicalType *CodeableConcept  `json:"physicalType,omitempty"`
	PartOf       *Reference        `json:"partOf,omitempty"`
}

// Observation is an R4 Observation (https://hl7.org/fhir/R4/observation.html):
// one sensor reading.
type Observation struct {
	ResourceType      string            `json:"resourceType"`
	ID                string            `json:"id"`
	Status            string            `json:"status"`
	Category          []CodeableConcept `json:"category,omitempty"`
	Code              CodeableConcept   `json:"code"`
	Subject           *Reference        `json:"subject,omitempty"`
	EffectiveDateTime string            `json:"effectiveDateTime,omitempty"`
	ValueQuantity     *Quantity         `json:"valueQuantity,omitempty"`
	ValueBoolean      *bool             `json:"valueBoolean,omitempty"`
	Device            *Reference        `json:"device,omitempty"`
}

// DeviceMetric is an R4 DeviceMetric (https://hl7.org/fhir/R4/devicemetric.html):
// one sensor channel with its unit and calibration state.
type DeviceMetric struct {
	ResourceType      string              `json:"resourceType"`
	ID                string              `json:"id"`
	Identifier        []Identifier        `json:"identifier,omitempty"`
	Type              CodeableConcept     `json:"type"`
	Unit              *CodeableConcept    `json:"unit,omitempty"`
	Source            *Reference          `json:"source,omitempty"`
	Parent            *Reference          `json:"parent,omitempty"`
	OperationalStatus string              `json:"operationalStatus,omitempty"` // on | off | standby | entered-in-error
	Category          string              `json:"category"`                    // measurement | setting | calculation | unspecified
	Calibration       []MetricCalibration `json:"calibration,omitempty"`
}

// MetricCalibration is a DeviceMetric's calibration state.
type MetricCalibration struct {
	Extension []Extension `json:"extension,omitempty"`
	Type      string      `json:"type,omitempty"`  // unspecified | offset | gain | two-point
	State     string      `json:"state,omitempty"` // not-calibrated | calibration-required | calibrated | unspecified
	Time      string      `json:"time,omitempty"`
}

// Flag is an R4 Flag (https://hl7.org/fhir/R4/flag.html): a unit under
// "DO NOT USE" quarantine.
type Flag struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Status       string            `json:"status"` // active | inactive | entered-in-error
	Category     []CodeableConcept `json:"category,omitempty"`
	Code         CodeableConcept   `json:"code"`
	Subject      Reference         `json:"subject"`
	Period       *Period           `json:"period,omitempty"`
	Author       *Reference        `json:"author,omitempty"`
}

// OperationOutcome is an R4 OperationOutcome: the body of every error.
type OperationOutcome struct {
	ResourceType string         `json:"resourceType"`
	Issue        []OutcomeIssue `json:"issue"`
}

// OutcomeIssue is one issue of an OperationOutcome.
type OutcomeIssue struct {
	Severity    string `json:"severity"` // fatal | error | warning | information
	Code        string `json:"code"`     // invalid | not-found | not-supported | too-costly | exception…
	Diagnostics string `json:"diagnostics,omitempty"`
}

// Bundle is an R4 Bundle of type searchset: one page of search results.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Total        *int          `json:"total,omitempty"`
	Link         []BundleLink  `json:"link,omitempty"`
	Entry        []BundleEntry `json:"entry,omitempty"`
}

// BundleLink is a paging link of a Bundle.
type BundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// BundleEntry is one resource of a Bundle.
type BundleEntry struct {
	FullURL  string       `json:"fullUrl,omitempty"`
	Resource any          `json:"resource,omitempty"`
	Search   *EntrySearch `json:"search,omitempty"`
}

// EntrySearch says why an entry is in a searchset.
type EntrySearch struct {
	Mode string `json:"mode,omitempty"` // match | include | outcome
}

// CapabilityStatement is an R4 CapabilityStatement: what this server does.
type CapabilityStatement struct {
	ResourceType   string              `json:"resourceType"`
	Status         string              `json:"status"`
	Date           string              `json:"date"`
	Publisher      string              `json:"publisher,omitempty"`
	Kind           string              `json:"kind"`
	Software       *CapabilitySoftware `json:"software,omitempty"`
	Implementation *CapabilityImpl     `json:"implementation,omitempty"`
	FHIRVersion    string              `json:"fhirVersion"`
	Format         []string            `json:"format"`
	Rest           []CapabilityRest    `json:"rest,omitempty"`
}

// CapabilitySoftware names the software.
type CapabilitySoftware struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// CapabilityImpl describes this installation.
type CapabilityImpl struct {
	Description string `json:"description"`
	URL         string `json:"url,omitempty"`
}

// CapabilityRest is the server's RESTful capabilities.
type CapabilityRest struct {
	Mode          string               `json:"mode"`
	Documentation string               `json:"documentation,omitempty"`
	Resource      []CapabilityResource `json:"resource,omitempty"`
}

// CapabilityResource is what the server does with one resource type.
type CapabilityResource struct {
	Type        string                  `json:"type"`
	Interaction []CapabilityInteraction `json:"interaction,omitempty"`
	SearchParam []CapabilitySearchParam `json:"searchParam,omitempty"`
}

// CapabilityInteraction is one interaction: read or search-type.
type CapabilityInteraction struct {
	Code string `json:"code"`
}

// CapabilitySearchParam is one supported search parameter.
type CapabilitySearchParam struct {
	Name          string `json:"name"`
	Definition    string `json:"definition,omitempty"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}
