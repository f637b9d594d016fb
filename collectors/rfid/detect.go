package rfid

import (
	"bytes"
	"encoding/json"
)

// detectItems is how many items DetectFormat looks at before giving up.
const detectItems = 16

// DetectFormat guesses a body's format from its first items:
//
//	an object with "tagInventoryEvent" or "eventType"   FormatImpinj
//	an object with a "data" object                      FormatZebra
//	an object with "reads" or "epc"                     FormatWardWatch
//
// Items that say nothing (not JSON, not objects, other members) are
// skipped; ok is false when none of the first few items decides.
func DetectFormat(body []byte) (f Format, ok bool) {
	seen := 0
	for i := 0; seen < detectItems; {
		start, end, valid, next := nextValue(body, i)
		if start < 0 {
			break
		}
		i = next
		seen++
		if !valid {
			continue
		}
		raw := body[start:end]
		if raw[0] == '[' {
			elems, ok := splitArray(raw)
			if !ok {
				continue
			}
			for k, e := range elems {
				if k == detectItems {
					break
				}
				if f, ok := detectObject(e); ok {
					return f, true
				}
			}
			continue
		}
		if f, ok := detectObject(raw); ok {
			return f, true
		}
	}
	return "", false
}

// detectObject classifies one object by its members.
func detectObject(raw []byte) (Format, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return "", false
	}
	var probe struct {
		TagInventoryEvent json.RawMessage `json:"tagInventoryEvent"`
		EventType         json.RawMessage `json:"eventType"`
		Data              json.RawMessage `json:"data"`
		Reads             json.RawMessage `json:"reads"`
		EPC               json.RawMessage `json:"epc"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return "", false
	}
	switch {
	case present(probe.TagInventoryEvent) || present(probe.EventType):
		return FormatImpinj, true
	case len(bytes.TrimSpace(probe.Data)) > 0 && bytes.TrimSpace(probe.Data)[0] == '{':
		return FormatZebra, true
	case present(probe.Reads) || present(probe.EPC):
		return FormatWardWatch, true
	}
	return "", false
}
