package finding

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
)

// Schema returns the JSON Schema (draft 2020-12) of the findings, generated
// from the Go types. docs/schema/findings.schema.json is this output; a test
// keeps the two in sync.
func Schema() ([]byte, error) {
	defs := map[string]any{}
	var oneOf []any
	for _, c := range constructors {
		t := reflect.TypeOf(c.new()).Elem()
		props := map[string]any{}
		required := []string{"_type", "_id", "_source", "_ts"}
		collectProps(t, props, &required)
		props["_type"] = map[string]any{"const": string(c.t)}
		defs[string(c.t)] = map[string]any{
			"type":                 "object",
			"description":          typeDocs[c.t],
			"properties":           props,
			"required":             required,
			"x-identity":           IdentityFields[c.t],
			"additionalProperties": false,
		}
		oneOf = append(oneOf, map[string]any{"$ref": "#/$defs/" + string(c.t)})
	}
	doc := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         "https://github.com/sortie-sec/sortie/docs/schema/findings-" + SchemaVersion + ".schema.json",
		"title":       "sortie finding",
		"description": "One finding per JSON object (findings.jsonl holds one per line). _id is a hash of the run, the type and the x-identity fields.",
		"version":     SchemaVersion,
		"oneOf":       oneOf,
		"$defs":       defs,
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

var timeType = reflect.TypeOf(time.Time{})

func collectProps(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			collectProps(f.Type, props, required)
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		props[name] = schemaOf(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.HasPrefix(name, "_") {
			*required = append(*required, name)
		}
	}
}

func schemaOf(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Float64, reflect.Float32:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return map[string]any{"type": "object"}
		}
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		var req []string
		collectProps(t, props, &req)
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

// typeDocs is the one-line description of each type in the schema.
var typeDocs = map[Type]string{
	TypeURL:           "An HTTP(S) endpoint that answered or was found.",
	TypePort:          "A network port seen on a host.",
	TypeIP:            "An address that was resolved or found alive.",
	TypeSubdomain:     "A name found under a domain.",
	TypeDomain:        "A registered domain with its registration data.",
	TypeRecord:        "A DNS record: host is the name queried, name the record's value.",
	TypeVulnerability: "A weakness matched on a target; severity_rank orders severities (0 unknown .. 5 critical).",
	TypeTechnology:    "A product seen on a target, with its version when known.",
	TypeTag:           "A labelled observation: a secret, a WAF, an interesting parameter.",
	TypeExploit:       "A known exploit that applies to a target.",
	TypeCertificate:   "A TLS certificate served by a host.",
	TypeUserAccount:   "An account found on a site.",
	TypeTarget:        "An input of the run with its detected type.",
	TypeInfo:          "An informational message.",
	TypeWarning:       "Something the user should know: a skipped target, a limit hit, unreadable lines.",
	TypeError:         "A failure, with the tail of the tool's output.",
	TypeProgress:      "How far a task is.",
	TypeStat:          "A resource sample of a running tool.",
}
