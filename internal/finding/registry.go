package finding

import (
	"encoding/json"
	"fmt"
)

// constructors maps every type to a constructor, in the documented order.
var constructors = []struct {
	t   Type
	new func() Finding
}{
	{TypeURL, func() Finding { return new(URL) }},
	{TypePort, func() Finding { return new(Port) }},
	{TypeIP, func() Finding { return new(IP) }},
	{TypeSubdomain, func() Finding { return new(Subdomain) }},
	{TypeDomain, func() Finding { return new(Domain) }},
	{TypeRecord, func() Finding { return new(Record) }},
	{TypeVulnerability, func() Finding { return new(Vulnerability) }},
	{TypeTechnology, func() Finding { return new(Technology) }},
	{TypeTag, func() Finding { return new(Tag) }},
	{TypeExploit, func() Finding { return new(Exploit) }},
	{TypeCertificate, func() Finding { return new(Certificate) }},
	{TypeUserAccount, func() Finding { return new(UserAccount) }},
	{TypeTarget, func() Finding { return new(Target) }},
	{TypeInfo, func() Finding { return new(Info) }},
	{TypeWarning, func() Finding { return new(Warning) }},
	{TypeError, func() Finding { return new(Error) }},
	{TypeProgress, func() Finding { return new(Progress) }},
	{TypeStat, func() Finding { return new(Stat) }},
}

// IdentityFields names, per type, the JSON fields whose values make a
// finding's id, in the order Identity returns them.
var IdentityFields = map[Type][]string{
	TypeURL:           {"url"},
	TypePort:          {"ip", "port", "protocol"},
	TypeIP:            {"ip"},
	TypeSubdomain:     {"host"},
	TypeDomain:        {"domain"},
	TypeRecord:        {"host", "type", "name"},
	TypeVulnerability: {"name", "matched_at", "id"},
	TypeTechnology:    {"match", "product", "version"},
	TypeTag:           {"name", "match", "value"},
	TypeExploit:       {"id", "matched_at", "name"},
	TypeCertificate:   {"host", "port", "fingerprint_sha256"},
	TypeUserAccount:   {"site_name", "username"},
	TypeTarget:        {"name"},
	TypeInfo:          {"message"},
	TypeWarning:       {"message"},
	TypeError:         {"message"},
	TypeProgress:      {"percent"},
	TypeStat:          {"name", "pid", "_ts"},
}

// Types lists every finding type in documented order.
func Types() []Type {
	out := make([]Type, len(constructors))
	for i, c := range constructors {
		out[i] = c.t
	}
	return out
}

// New returns an empty finding of type t, or nil for an unknown type.
func New(t Type) Finding {
	for _, c := range constructors {
		if c.t == t {
			return c.new()
		}
	}
	return nil
}

// Decode reads one finding from its JSON encoding, using _type to pick the
// Go type.
func Decode(data []byte) (Finding, error) {
	var head struct {
		Type Type `json:"_type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decode finding: %w", err)
	}
	f := New(head.Type)
	if f == nil {
		return nil, fmt.Errorf("decode finding: unknown _type %q", head.Type)
	}
	if err := json.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("decode %s finding: %w", head.Type, err)
	}
	return f, nil
}
