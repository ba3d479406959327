// Package finding is sortie's findings schema: the typed results every tool's
// output is normalised into, their identity fields, their deterministic ids
// and their JSON encoding.
//
// Every finding type embeds Meta, whose fields are encoded with a leading
// underscore (_type, _id, _source, _run, _task, _ts) next to the type's own
// snake_case fields. Field names follow secator's where secator has one,
// because users' queries and reports use them.
//
// The id of a finding is a hash of the run scope, the type and the values of
// the type's identity fields, so the same finding produced twice (a redelivered
// task, two tools that overlap) has one id. The package imports nothing
// internal.
package finding

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// SchemaVersion is the version of the findings schema. It changes when a field
// is renamed or removed, or when an identity changes (ids would change).
const SchemaVersion = "1.0.0"

// Type names a finding type; it is the value of _type.
type Type string

// The finding types. The first group are results, the second describe the
// execution itself.
const (
	TypeURL           Type = "url"
	TypePort          Type = "port"
	TypeIP            Type = "ip"
	TypeSubdomain     Type = "subdomain"
	TypeDomain        Type = "domain"
	TypeRecord        Type = "record"
	TypeVulnerability Type = "vulnerability"
	TypeTechnology    Type = "technology"
	TypeTag           Type = "tag"
	TypeExploit       Type = "exploit"
	TypeCertificate   Type = "certificate"
	TypeUserAccount   Type = "user_account"

	TypeTarget   Type = "target"
	TypeInfo     Type = "info"
	TypeWarning  Type = "warning"
	TypeError    Type = "error"
	TypeProgress Type = "progress"
	TypeStat     Type = "stat"
)

// Execution reports whether t describes the execution (target, info,
// warning, error, progress, stat) rather than a result about a target.
func (t Type) Execution() bool {
	switch t {
	case TypeTarget, TypeInfo, TypeWarning, TypeError, TypeProgress, TypeStat:
		return true
	}
	return false
}

// Source says which tool, and which workflow step if any, produced a finding.
type Source struct {
	Tool string `json:"tool"`
	Step string `json:"step,omitempty"`
}

// Meta is embedded in every finding type. Its fields are set by Stamp.
type Meta struct {
	Type   Type      `json:"_type"`
	ID     string    `json:"_id"`
	Source Source    `json:"_source"`
	Run    string    `json:"_run,omitempty"`
	Task   string    `json:"_task,omitempty"`
	TS     time.Time `json:"_ts"`
}

// Base returns the finding's metadata; every finding type gets it by
// embedding Meta.
func (m *Meta) Base() *Meta { return m }

// Finding is implemented by every finding type.
type Finding interface {
	// Base returns the metadata block (_type, _id, ...).
	Base() *Meta
	// Kind is the finding's type, known without Stamp having run.
	Kind() Type
	// Identity returns the values of the type's identity fields, in the order
	// of IdentityFields. It is called after Normalize.
	Identity() []string
	// Normalize derives and canonicalises fields (a URL's host, a severity's
	// case and rank, ...). It is idempotent.
	Normalize()
}

// Emit receives findings as they are produced.
type Emit func(Finding)

// Scope is what Stamp needs to know about where a finding comes from.
type Scope struct {
	Run    string
	Task   string
	Source Source
}

// Stamp normalises f and fills its metadata: type, deterministic id, source,
// run, task and, when not already set, the timestamp.
func Stamp(f Finding, s Scope, now time.Time) {
	f.Normalize()
	m := f.Base()
	m.Type = f.Kind()
	m.Source = s.Source
	m.Run = s.Run
	m.Task = s.Task
	if m.TS.IsZero() {
		m.TS = now.UTC()
	}
	m.ID = ID(s.Run, m.Type, f.Identity())
}

// ID is the deterministic id of a finding: the first 16 bytes of the SHA-256
// of the run scope, the type and the identity values, in hex. Fields are
// length-prefixed so that no two different inputs hash the same bytes.
func ID(run string, t Type, identity []string) string {
	buf := make([]byte, 0, 256) // on the stack for the usual short identities
	field := func(s string) {
		buf = strconv.AppendInt(buf, int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
	}
	field(run)
	field(string(t))
	for _, v := range identity {
		field(v)
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:16])
}
