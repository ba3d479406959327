package tool

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// whois looks up a domain's registration: one domain finding with the
// registrar, registrant, dates, name servers, statuses and contact emails.
func whoisTool() *Definition {
	return &Definition{
		Name:        "whois",
		Description: "Domain registration lookup (WHOIS)",
		Binary:      "whois",
		Install:     Install{Apt: []string{"whois"}},
		Version:     VersionCommand{Args: []string{"--version"}, Regex: `Version ([0-9][0-9.]*[0-9])`},
		Inputs:      []target.Type{target.Host},
		Input:       Input{Mode: InputArg},
		// Several objects would print several answers back to back, with
		// nothing to tell them apart.
		SingleTarget: true,
		Options: map[string]Flag{
			"server":       {Flag: "-h"},
			"port":         {Flag: "-p"},
			"no_recursion": {Flag: "--no-recursion"},
		},
		Extra: []Option{
			{Name: "server", Kind: KindString, Help: "query this WHOIS server instead of the one whois picks"},
			{Name: "port", Kind: KindInt, Help: "WHOIS server port"},
			{Name: "no_recursion", Kind: KindBool, Help: "do not follow the registry's referral to the registrar"},
		},
		// -H hides the legal disclaimers.
		Fixed:  []string{"-H"},
		Output: Output{Format: FormatText},
		Parse:  Parser{Document: parseWhois},
	}
}

// whoisKeys maps the lower-cased field names registries and registrars use
// to the domain finding's fields.
var whoisKeys = map[string]string{
	"domain name": "domain", "domain": "domain", "domain_name": "domain",

	"registrar": "registrar", "registrar name": "registrar", "sponsoring registrar": "registrar",
	"registrar organization": "registrar",

	"registrant organization": "registrant", "registrant organisation": "registrant",
	"registrant org": "registrant", "registrant": "registrant_name", "registrant name": "registrant_name",

	"creation date": "created", "created": "created", "created on": "created", "created date": "created",
	"registered on": "created", "registered": "created", "registration time": "created",
	"domain registration date": "created", "registration date": "created",

	"updated date": "updated", "last updated": "updated", "last updated on": "updated", "last-update": "updated",
	"last modified": "updated", "last-modified": "updated", "changed": "updated", "modified": "updated",

	"registry expiry date": "expires", "registrar registration expiration date": "expires",
	"expiration date": "expires", "expiry date": "expires", "expires": "expires", "expires on": "expires",
	"expire date": "expires", "paid-till": "expires", "renewal date": "expires",

	"name server": "ns", "nameserver": "ns", "nameservers": "ns", "name servers": "ns", "nserver": "ns",

	"domain status": "status", "status": "status",

	"registry domain id": "registry_domain_id", "dnssec": "dnssec",
}

var whoisEmail = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+`)

// whoisDateLayouts are registration date formats finding.ParseTime does not
// know (MarkMonitor's "+0000" offsets, slashes, ctime).
var whoisDateLayouts = []string{
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05.999999999-0700",
	"2006-01-02T15:04:05.999999999",
	"2006/01/02 15:04:05",
	"2006/01/02",
	"Mon Jan _2 15:04:05 MST 2006",
	"02-Jan-2006 15:04:05 MST",
	"2006-01-02 15:04:05 (MST-07:00)",
}

func whoisTime(s string) *time.Time {
	if t := finding.TimePtr(s); t != nil {
		return t
	}
	for _, l := range whoisDateLayouts {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			t = t.UTC()
			return &t
		}
	}
	return nil
}

// parseWhois reads whois's text answer (or a whois-go JSON document). The
// registry's answer and the registrar's that whois appends are merged: the
// first value of a field wins, lists are united. An answer without any
// registration field ("No match for ...") gives no finding.
func parseWhois(pc *ParseContext, data []byte, emit finding.Emit) error {
	if !utf8.Valid(data) {
		return errors.New("whois output is not UTF-8 text")
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return parseWhoisGo(pc, t, emit)
	}
	d := &finding.Domain{}
	var registrantName, created, updated, expires string
	extra := map[string]any{}
	found := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '%' || line[0] == '#' || strings.HasPrefix(line, ">>>") {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
		if strings.Contains(key, "mail") {
			for _, e := range whoisEmail.FindAllString(val, -1) {
				d.Emails = whoisAdd(d.Emails, strings.ToLower(e))
			}
		}
		field := whoisKeys[key]
		// Privacy services answer "REDACTED FOR PRIVACY" and the like.
		if field == "" || val == "" || strings.Contains(strings.ToLower(val), "redacted") {
			continue
		}
		found = found || field != "domain"
		switch field {
		case "domain":
			if d.Domain == "" {
				d.Domain = strings.Fields(val)[0]
			}
		case "registrar":
			whoisFirst(&d.Registrar, val)
		case "registrant":
			whoisFirst(&d.Registrant, val)
		case "registrant_name":
			whoisFirst(&registrantName, val)
		case "created":
			whoisFirst(&created, val)
		case "updated":
			whoisFirst(&updated, val)
		case "expires":
			whoisFirst(&expires, val)
		case "ns":
			// "ns1.example.com 192.0.2.1": the name comes first.
			d.NameServers = whoisAdd(d.NameServers, strings.ToLower(strings.TrimSuffix(strings.Fields(val)[0], ".")))
		case "status":
			// "clientTransferProhibited https://icann.org/epp#...": keep the code.
			d.Status = whoisAdd(d.Status, strings.Fields(val)[0])
		case "registry_domain_id", "dnssec":
			if _, ok := extra[field]; !ok {
				extra[field] = val
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("whois output: %w", err)
	}
	if d.Domain == "" && found && pc != nil && len(pc.Targets) == 1 {
		d.Domain = pc.Targets[0]
	}
	for _, st := range d.Status {
		if st = strings.ToLower(st); st == "free" || st == "available" {
			found = false // DENIC and others answer unregistered names this way
		}
	}
	if d.Domain == "" || !found {
		return nil
	}
	if d.Registrant == "" {
		d.Registrant = registrantName
	}
	d.CreationDate, d.UpdatedDate, d.ExpirationDate = whoisTime(created), whoisTime(updated), whoisTime(expires)
	if len(extra) > 0 {
		d.ExtraData = extra
	}
	emit(d)
	return nil
}

func whoisFirst(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

func whoisAdd(list []string, v string) []string {
	if v == "" || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// whoisGoContact is a contact of whois-go's JSON (likexian/whois-parser).
type whoisGoContact struct {
	Name         string `json:"name"`
	Organization string `json:"organization"`
	Email        string `json:"email"`
}

// parseWhoisGo reads the JSON of whois-go ("whois -j"), a different tool
// whose output `sortie import whois` also accepts.
func parseWhoisGo(pc *ParseContext, data []byte, emit finding.Emit) error {
	var doc struct {
		Domain *struct {
			ID             string   `json:"id"`
			Domain         string   `json:"domain"`
			Punycode       string   `json:"punycode"`
			Status         []string `json:"status"`
			NameServers    []string `json:"name_servers"`
			DNSSec         *bool    `json:"dnssec"`
			CreatedDate    string   `json:"created_date"`
			UpdatedDate    string   `json:"updated_date"`
			ExpirationDate string   `json:"expiration_date"`
		} `json:"domain"`
		Registrar      *whoisGoContact `json:"registrar"`
		Registrant     *whoisGoContact `json:"registrant"`
		Administrative *whoisGoContact `json:"administrative"`
		Technical      *whoisGoContact `json:"technical"`
		Billing        *whoisGoContact `json:"billing"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("whois-go JSON: %w", err)
	}
	if doc.Domain == nil {
		return errors.New("whois-go JSON: no domain object")
	}
	dd := doc.Domain
	d := &finding.Domain{Domain: dd.Punycode}
	if d.Domain == "" {
		d.Domain = dd.Domain
	}
	if d.Domain == "" && pc != nil && len(pc.Targets) == 1 {
		d.Domain = pc.Targets[0]
	}
	if d.Domain == "" {
		return errors.New("whois-go JSON: no domain name")
	}
	for _, ns := range dd.NameServers {
		d.NameServers = whoisAdd(d.NameServers, strings.ToLower(strings.TrimSpace(ns)))
	}
	for _, s := range dd.Status {
		d.Status = whoisAdd(d.Status, strings.TrimSpace(s))
	}
	d.CreationDate, d.UpdatedDate, d.ExpirationDate = whoisTime(dd.CreatedDate), whoisTime(dd.UpdatedDate), whoisTime(dd.ExpirationDate)
	if r := doc.Registrar; r != nil {
		d.Registrar = r.Name
		whoisFirst(&d.Registrar, r.Organization)
	}
	if r := doc.Registrant; r != nil {
		d.Registrant = r.Organization
		whoisFirst(&d.Registrant, r.Name)
	}
	for _, c := range []*whoisGoContact{doc.Registrant, doc.Administrative, doc.Technical, doc.Billing, doc.Registrar} {
		if c != nil && whoisEmail.MatchString(c.Email) {
			d.Emails = whoisAdd(d.Emails, strings.ToLower(strings.TrimSpace(c.Email)))
		}
	}
	extra := map[string]any{}
	if dd.ID != "" {
		extra["registry_domain_id"] = dd.ID
	}
	if dd.DNSSec != nil {
		extra["dnssec"] = map[bool]string{true: "signed", false: "unsigned"}[*dd.DNSSec]
	}
	if len(extra) > 0 {
		d.ExtraData = extra
	}
	emit(d)
	return nil
}
