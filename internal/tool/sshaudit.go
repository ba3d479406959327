package tool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// ssh-audit audits an SSH server's algorithms: a technology for the server
// software, a vulnerability per algorithm ssh-audit rates fail or warn, and
// one per CVE it knows for the software version.
func sshAuditTool() *Definition {
	return &Definition{
		Name:        "ssh-audit",
		Description: "SSH server audit: software, key exchange, host key, cipher and MAC algorithms",
		Binary:      "ssh-audit",
		Install:     Install{Apt: []string{"ssh-audit"}},
		Version:     VersionCommand{Args: []string{"-h"}, Regex: `ssh-audit v([0-9][^\s,]*)`},
		Inputs:      []target.Type{target.Host, target.IP, target.HostPort},
		// ssh-audit reads "host:port" ("[::1]:2222") from its argument; -p
		// would make it take the argument as a bare host, so ports travel
		// in the target.
		Input:        Input{Mode: InputArg},
		SingleTarget: true,
		Options: map[string]Flag{
			"timeout": {Args: fracSecondsFlag("-t")},
			"ipv4":    {Flag: "-4"},
			"ipv6":    {Flag: "-6"},
		},
		Extra: []Option{
			{Name: "ipv4", Kind: KindBool, Help: "prefer IPv4"},
			{Name: "ipv6", Kind: KindBool, Help: "prefer IPv6"},
		},
		Fixed:  []string{"-j", "-n"},
		Output: Output{Format: FormatJSON},
		Parse:  Parser{Document: parseSSHAudit},
		// 2: warnings, 3: failures; 1 is a connection error.
		OKExitCodes: []int{2, 3},
	}
}

// sshAuditReport is ssh-audit's -j document. Before 2.9 the algorithms are
// bare names (enc, mac) or {algorithm, keysize} (kex, key) without notes;
// later versions add notes per algorithm and the cves list.
type sshAuditReport struct {
	Banner *struct {
		Raw      string `json:"raw"`
		Software string `json:"software"`
		Comments string `json:"comments"`
	} `json:"banner"`
	Target       string        `json:"target"`
	Kex          []sshAuditAlg `json:"kex"`
	Key          []sshAuditAlg `json:"key"`
	Enc          []sshAuditAlg `json:"enc"`
	Mac          []sshAuditAlg `json:"mac"`
	Fingerprints []sshAuditFP  `json:"fingerprints"`
	CVEs         []sshAuditCVE `json:"cves"`
}

type sshAuditFP struct {
	Hash    string `json:"hash"`
	HashAlg string `json:"hash_alg"`
	HostKey string `json:"hostkey"`
}

type sshAuditCVE struct {
	Name        string    `json:"name"`
	CVSS        flexFloat `json:"cvssv2"`
	Description string    `json:"description"`
}

type sshAlgNotes struct{ fail, warn []string }

type sshAuditAlg struct {
	Algorithm string
	KeySize   int
	Notes     *sshAlgNotes
}

func (a *sshAuditAlg) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &a.Algorithm)
	}
	var v struct {
		Algorithm string  `json:"algorithm"`
		KeySize   flexInt `json:"keysize"`
		Notes     *struct {
			Fail []string `json:"fail"`
			Warn []string `json:"warn"`
		} `json:"notes"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	a.Algorithm, a.KeySize = v.Algorithm, int(v.KeySize)
	if v.Notes != nil {
		a.Notes = &sshAlgNotes{fail: v.Notes.Fail, warn: v.Notes.Warn}
	}
	return nil
}

// sshSoftware splits "OpenSSH_9.2p1", "dropbear_2020.81" or
// "OpenSSH_for_Windows_8.1" into product and version.
var sshSoftware = regexp.MustCompile(`^(.*?)[_-]v?([0-9][\w.+~-]*)$`)

// parseSSHAudit reads ssh-audit's JSON from stdout: one document, several
// (one per line with -T), or an array of them.
func parseSSHAudit(pc *ParseContext, data []byte, emit finding.Emit) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var errs []error
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			// Connection errors are printed as text ("[exception] ...").
			errs = append(errs, fmt.Errorf("ssh-audit output: %w", err))
			break
		}
		var reports []sshAuditReport
		if raw[0] == '[' {
			if err := json.Unmarshal(raw, &reports); err != nil {
				errs = append(errs, fmt.Errorf("ssh-audit report list: %w", err))
				continue
			}
		} else {
			var r sshAuditReport
			if err := json.Unmarshal(raw, &r); err != nil {
				errs = append(errs, fmt.Errorf("ssh-audit report: %w", err))
				continue
			}
			reports = append(reports, r)
		}
		for i := range reports {
			if err := sshAuditEmit(pc, &reports[i], emit); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func sshAuditEmit(pc *ParseContext, r *sshAuditReport, emit finding.Emit) error {
	if r.Target == "" {
		return errors.New("ssh-audit report without a target (policy or client audit output?)")
	}
	host, port := sshAuditHostPort(pc, r.Target)
	matched := net.JoinHostPort(host, strconv.Itoa(port))
	ip := ""
	if a, err := netip.ParseAddr(host); err == nil {
		ip = a.String()
	}
	if b := r.Banner; b != nil && b.Software != "" {
		t := &finding.Technology{Product: b.Software, Match: matched, Categories: []string{"ssh"}}
		if m := sshSoftware.FindStringSubmatch(b.Software); m != nil {
			t.Product, t.Version = m[1], m[2]
		}
		extra := map[string]any{"banner": b.Raw}
		fps := map[string]string{}
		for _, fp := range r.Fingerprints {
			if fp.HashAlg == "SHA256" && fp.HostKey != "" {
				fps[fp.HostKey] = "SHA256:" + fp.Hash
			}
		}
		if len(fps) > 0 {
			extra["host_key_fingerprints"] = fps
		}
		t.ExtraData = extra
		emit(t)
	}
	// Reports from ssh-audit 2.5 carry no notes: rate their algorithms with
	// the database that version uses, so the findings match its text output.
	withNotes := false
	for _, list := range [][]sshAuditAlg{r.Kex, r.Key, r.Enc, r.Mac} {
		for _, a := range list {
			withNotes = withNotes || a.Notes != nil
		}
	}
	kinds := []struct {
		key, name string
		algs      []sshAuditAlg
	}{
		{"kex", "key exchange", r.Kex}, {"key", "host key", r.Key},
		{"enc", "encryption", r.Enc}, {"mac", "MAC", r.Mac},
	}
	for _, k := range kinds {
		for _, a := range k.algs {
			notes := a.Notes
			if !withNotes {
				if n, ok := sshAudit25DB[k.key][a.Algorithm]; ok {
					notes = &n
				}
			}
			if notes == nil || (len(notes.fail) == 0 && len(notes.warn) == 0) || a.Algorithm == "" {
				continue
			}
			// fail is a broken or deprecated algorithm, warn a weakness:
			// neither is exploitable on its own, hence medium and low.
			sev := "low"
			var desc []string
			if len(notes.fail) > 0 {
				sev = "medium"
				desc = append(desc, "fail: "+strings.Join(notes.fail, "; "))
			}
			if len(notes.warn) > 0 {
				desc = append(desc, "warn: "+strings.Join(notes.warn, "; "))
			}
			emit(&finding.Vulnerability{
				Name: "Weak SSH " + k.name + " algorithm", ID: a.Algorithm, Provider: "ssh-audit",
				MatchedAt: matched, IP: ip, Severity: sev, Description: strings.Join(desc, " | "),
				Tags: []string{"ssh", k.key},
			})
		}
	}
	for _, c := range r.CVEs {
		if c.Name == "" {
			continue
		}
		emit(&finding.Vulnerability{
			Name: c.Name, ID: c.Name, Provider: "ssh-audit", MatchedAt: matched, IP: ip,
			CVSSScore: float64(c.CVSS), CVEs: []string{c.Name}, Description: c.Description,
			Tags: []string{"ssh", "cve"},
		})
	}
	return nil
}

// sshAuditHostPort finds the audited address. ssh-audit 2.5 writes the bare
// host in "target"; the port then comes from the task's target, or is 22.
func sshAuditHostPort(pc *ParseContext, tgt string) (string, int) {
	if h, p, err := net.SplitHostPort(tgt); err == nil {
		if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
			return h, n
		}
	}
	host := strings.Trim(tgt, "[]")
	if pc != nil && len(pc.Targets) == 1 {
		if h, p, err := net.SplitHostPort(pc.Targets[0]); err == nil && strings.EqualFold(h, host) {
			if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
				return host, n
			}
		}
	}
	return host, 22
}

// The fail and warn notes of ssh-audit 2.5.0's algorithm database
// (ssh_audit/ssh2_kexdb.py, MIT licence, Copyright (C) 2017-2021 Joe Testa,
// 2017 Andris Raugulis), used for its note-less JSON output. Unknown
// algorithms are not rated: 2.5.0 predates several strong ones
// (sntrup761x25519-sha512, kex-strict-*) and would flag them.
const (
	saWarnOpenssh74Unsafe  = "disabled (in client) since OpenSSH 7.4, unsafe algorithm"
	saWarnOpenssh72Legacy  = "disabled (in client) since OpenSSH 7.2, legacy algorithm"
	saFailOpenssh70Legacy  = "removed since OpenSSH 7.0, legacy algorithm"
	saFailOpenssh70Weak    = "removed (in server) and disabled (in client) since OpenSSH 7.0, weak algorithm"
	saFailOpenssh70Logjam  = "disabled (in client) since OpenSSH 7.0, logjam attack"
	saFailOpenssh67Unsafe  = "removed (in server) since OpenSSH 6.7, unsafe algorithm"
	saFailOpenssh61Remove  = "removed since OpenSSH 6.1, removed from specification"
	saFailOpenssh31Remove  = "removed since OpenSSH 3.1"
	saFailDbear67Disabled  = "disabled since Dropbear SSH 2015.67"
	saFailDbear53Disabled  = "disabled since Dropbear SSH 0.53"
	saFailDeprecatedCipher = "deprecated cipher"
	saFailWeakAlgorithm    = "using weak/obsolete algorithm"
	saFailPlaintext        = "no encryption/integrity"
	saFailDeprecatedMac    = "deprecated MAC"
	saFail1024bitModulus   = "using small 1024-bit modulus"
	saFailUnproven         = "using unproven algorithm"
	saWarnCurvesWeak       = "using weak elliptic curves"
	saWarnRndsigKey        = "using weak random number generator could reveal the key"
	saWarnHashWeak         = "using weak hashing algorithm"
	saWarnCipherMode       = "using weak cipher mode"
	saWarnBlockSize        = "using small 64-bit block size"
	saWarnCipherWeak       = "using weak cipher"
	saWarnEncryptAndMac    = "using encrypt-and-MAC mode"
	saWarnTagSize          = "using small 64-bit tag size"
	saWarnTagSize96        = "using small 96-bit tag size"
	saWarnExperimental     = "using experimental algorithm"
	saWarnObsolete         = "using obsolete algorithm"
	saWarnUntrusted        = "using untrusted algorithm"
)

var sshAudit25DB = map[string]map[string]sshAlgNotes{
	"kex": {
		"diffie-hellman-group1-sha1":                {[]string{saFail1024bitModulus, saFailOpenssh67Unsafe, saFailOpenssh70Logjam}, []string{saWarnHashWeak}},
		"gss-group1-sha1-toWM5Slw5Ew8Mqkay+al2g==":  {[]string{saFail1024bitModulus, saFailOpenssh67Unsafe, saFailOpenssh70Logjam}, []string{saWarnHashWeak}},
		"gss-gex-sha1-eipGX3TCiQSrx573bT1o1Q==":     {nil, []string{saWarnHashWeak}},
		"gss-gex-sha1-toWM5Slw5Ew8Mqkay+al2g==":     {nil, []string{saWarnHashWeak}},
		"gss-gex-sha1-":                             {nil, []string{saWarnHashWeak}},
		"gss-group1-sha1-eipGX3TCiQSrx573bT1o1Q==":  {[]string{saFail1024bitModulus}, []string{saWarnHashWeak}},
		"gss-group1-sha1-":                          {[]string{saFail1024bitModulus}, []string{saWarnHashWeak}},
		"gss-group14-sha1-":                         {nil, []string{saWarnHashWeak}},
		"gss-group14-sha1-eipGX3TCiQSrx573bT1o1Q==": {nil, []string{saWarnHashWeak}},
		"gss-group14-sha1-toWM5Slw5Ew8Mqkay+al2g==": {nil, []string{saWarnHashWeak}},
		"gss-nistp256-sha256-":                      {[]string{saWarnCurvesWeak}, nil},
		"diffie-hellman-group1-sha256":              {[]string{saFail1024bitModulus}, nil},
		"diffie-hellman-group14-sha1":               {nil, []string{saWarnHashWeak}},
		"diffie-hellman-group-exchange-sha1":        {[]string{saFailOpenssh67Unsafe}, []string{saWarnHashWeak}},
		"ecdh-sha2-nistb233":                        {[]string{saWarnCurvesWeak}, nil},
		"ecdh-sha2-nistb409":                        {[]string{saWarnCurvesWeak}, nil},
		"ecdh-sha2-nistk163":                        {[]string{saWarnCurvesWeak}, nil},
		"ecdh-sha2-nistk233":                        {[]string{saWarnCurvesWeak}, nil},
		"ecdh-sha2-nistk283":                        {[]string{saWarnCurvesWeak}, nil},
		"ecdh-sha2-nistk409":                        {[]string{saWarnCurvesWeak}, nil},
		"ecdh-sha2-nistp192":                        {[]string{saWarnCurvesWeak}, nil},
		"ecdh-sha2-nistp224":                        {[]string{saWarnCurvesWeak}, nil},
		"ecdh-sha2-nistp256":                        {[]string{saWarnCurvesWeak}, nil},
		"ecdh-sha2-nistp384":                        {[]string{saWarnCurvesWeak}, nil},
		"ecdh-sha2-nistp521":                        {[]string{saWarnCurvesWeak}, nil},
		"ecdh-sha2-nistt571":                        {[]string{saWarnCurvesWeak}, nil},
		"rsa1024-sha1":                              {[]string{saFail1024bitModulus}, []string{saWarnHashWeak}},
		"sntrup4591761x25519-sha512@tinyssh.org":    {nil, []string{saWarnExperimental}},
		"sntrup761x25519-sha512@openssh.com":        {nil, []string{saWarnExperimental}},
	},
	"key": {
		"ssh-rsa1":                                    {[]string{saFailWeakAlgorithm}, nil},
		"ssh-rsa":                                     {[]string{saWarnHashWeak}, nil},
		"ssh-dss":                                     {[]string{saFail1024bitModulus, saFailOpenssh70Weak}, []string{saWarnRndsigKey}},
		"ecdsa-sha2-nistp256":                         {[]string{saWarnCurvesWeak}, []string{saWarnRndsigKey}},
		"ecdsa-sha2-nistp384":                         {[]string{saWarnCurvesWeak}, []string{saWarnRndsigKey}},
		"ecdsa-sha2-nistp521":                         {[]string{saWarnCurvesWeak}, []string{saWarnRndsigKey}},
		"ecdsa-sha2-1.3.132.0.10":                     {nil, []string{saWarnRndsigKey}},
		"x509v3-sign-dss":                             {[]string{saFail1024bitModulus, saFailOpenssh70Weak}, []string{saWarnRndsigKey}},
		"x509v3-sign-rsa":                             {[]string{saWarnHashWeak}, nil},
		"x509v3-ssh-dss":                              {[]string{saFail1024bitModulus, saFailOpenssh70Weak}, []string{saWarnRndsigKey}},
		"x509v3-ssh-rsa":                              {[]string{saWarnHashWeak}, nil},
		"ssh-rsa-cert-v00@openssh.com":                {[]string{saFailOpenssh70Legacy, saWarnHashWeak}, nil},
		"ssh-dss-cert-v00@openssh.com":                {[]string{saFail1024bitModulus, saFailOpenssh70Legacy}, []string{saWarnRndsigKey}},
		"ssh-rsa-cert-v01@openssh.com":                {[]string{saWarnHashWeak}, nil},
		"ssh-dss-cert-v01@openssh.com":                {[]string{saFail1024bitModulus, saFailOpenssh70Weak}, []string{saWarnRndsigKey}},
		"ecdsa-sha2-nistp256-cert-v01@openssh.com":    {[]string{saWarnCurvesWeak}, []string{saWarnRndsigKey}},
		"ecdsa-sha2-nistp384-cert-v01@openssh.com":    {[]string{saWarnCurvesWeak}, []string{saWarnRndsigKey}},
		"ecdsa-sha2-nistp521-cert-v01@openssh.com":    {[]string{saWarnCurvesWeak}, []string{saWarnRndsigKey}},
		"ssh-dss-sha256@ssh.com":                      {[]string{saFail1024bitModulus}, nil},
		"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": {[]string{saWarnCurvesWeak}, []string{saWarnRndsigKey}},
		"sk-ecdsa-sha2-nistp256@openssh.com":          {[]string{saWarnCurvesWeak}, []string{saWarnRndsigKey}},
		"ssh-gost2001":                                {nil, []string{saWarnUntrusted}},
		"ssh-gost2012-256":                            {nil, []string{saWarnUntrusted}},
		"ssh-gost2012-512":                            {nil, []string{saWarnUntrusted}},
		"x509v3-ecdsa-sha2-nistp256":                  {[]string{saWarnCurvesWeak}, nil},
		"x509v3-ecdsa-sha2-nistp384":                  {[]string{saWarnCurvesWeak}, nil},
		"x509v3-ecdsa-sha2-nistp521":                  {[]string{saWarnCurvesWeak}, nil},
	},
	"enc": {
		"none":                        {[]string{saFailPlaintext}, nil},
		"des":                         {[]string{saWarnCipherWeak}, []string{saWarnCipherMode, saWarnBlockSize}},
		"des-cbc":                     {[]string{saWarnCipherWeak}, []string{saWarnCipherMode, saWarnBlockSize}},
		"des-cbc@ssh.com":             {[]string{saWarnCipherWeak}, []string{saWarnCipherMode, saWarnBlockSize}},
		"des-cbc-ssh1":                {[]string{saWarnCipherWeak}, []string{saWarnCipherMode, saWarnBlockSize}},
		"3des":                        {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh74Unsafe, saWarnCipherWeak, saWarnCipherMode, saWarnBlockSize}},
		"3des-cbc":                    {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh74Unsafe, saWarnCipherWeak, saWarnCipherMode, saWarnBlockSize}},
		"3des-ctr":                    {[]string{saWarnCipherWeak}, nil},
		"blowfish":                    {[]string{saFailWeakAlgorithm}, []string{saWarnBlockSize}},
		"blowfish-cbc":                {[]string{saFailOpenssh67Unsafe, saFailDbear53Disabled}, []string{saWarnOpenssh72Legacy, saWarnCipherMode, saWarnBlockSize}},
		"blowfish-ctr":                {[]string{saFailOpenssh67Unsafe, saFailDbear53Disabled}, []string{saWarnOpenssh72Legacy, saWarnCipherMode, saWarnBlockSize}},
		"twofish-cbc":                 {[]string{saFailDbear67Disabled}, []string{saWarnCipherMode}},
		"twofish128-cbc":              {[]string{saFailDbear67Disabled}, []string{saWarnCipherMode}},
		"twofish192-cbc":              {nil, []string{saWarnCipherMode}},
		"twofish256-cbc":              {[]string{saFailDbear67Disabled}, []string{saWarnCipherMode}},
		"serpent128-cbc":              {[]string{saFailDeprecatedCipher}, []string{saWarnCipherMode}},
		"serpent192-cbc":              {[]string{saFailDeprecatedCipher}, []string{saWarnCipherMode}},
		"serpent256-cbc":              {[]string{saFailDeprecatedCipher}, []string{saWarnCipherMode}},
		"serpent128-ctr":              {[]string{saFailDeprecatedCipher}, nil},
		"serpent192-ctr":              {[]string{saFailDeprecatedCipher}, nil},
		"serpent256-ctr":              {[]string{saFailDeprecatedCipher}, nil},
		"idea-cbc":                    {[]string{saFailDeprecatedCipher}, []string{saWarnCipherMode}},
		"idea-ctr":                    {[]string{saFailDeprecatedCipher}, nil},
		"cast128-ctr":                 {[]string{saFailDeprecatedCipher}, nil},
		"cast128-cbc":                 {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy, saWarnCipherMode, saWarnBlockSize}},
		"arcfour":                     {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy, saWarnCipherWeak}},
		"arcfour128":                  {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy, saWarnCipherWeak}},
		"arcfour256":                  {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy, saWarnCipherWeak}},
		"aes128-cbc":                  {[]string{saFailOpenssh67Unsafe}, []string{saWarnCipherMode}},
		"aes192-cbc":                  {[]string{saFailOpenssh67Unsafe}, []string{saWarnCipherMode}},
		"aes256-cbc":                  {[]string{saFailOpenssh67Unsafe}, []string{saWarnCipherMode}},
		"rijndael128-cbc":             {[]string{saFailOpenssh31Remove}, []string{saWarnCipherMode}},
		"rijndael192-cbc":             {[]string{saFailOpenssh31Remove}, []string{saWarnCipherMode}},
		"rijndael256-cbc":             {[]string{saFailOpenssh31Remove}, []string{saWarnCipherMode}},
		"rijndael-cbc@lysator.liu.se": {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy, saWarnCipherMode}},
		"camellia128-cbc":             {nil, []string{saWarnCipherMode}},
		"camellia192-cbc":             {nil, []string{saWarnCipherMode}},
		"camellia256-cbc":             {nil, []string{saWarnCipherMode}},
		"crypticore128@ssh.com":       {[]string{saFailUnproven}, nil},
		"seed-cbc@ssh.com":            {nil, []string{saWarnObsolete, saWarnCipherMode}},
	},
	"mac": {
		"none":                             {[]string{saFailPlaintext}, nil},
		"hmac-sha1":                        {nil, []string{saWarnEncryptAndMac, saWarnHashWeak}},
		"hmac-sha1-96":                     {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy, saWarnEncryptAndMac, saWarnHashWeak}},
		"hmac-sha2-56":                     {nil, []string{saWarnTagSize, saWarnEncryptAndMac}},
		"hmac-sha2-224":                    {nil, []string{saWarnTagSize, saWarnEncryptAndMac}},
		"hmac-sha2-256":                    {nil, []string{saWarnEncryptAndMac}},
		"hmac-sha2-256-96":                 {[]string{saFailOpenssh61Remove}, []string{saWarnEncryptAndMac}},
		"hmac-sha2-384":                    {nil, []string{saWarnEncryptAndMac}},
		"hmac-sha2-512":                    {nil, []string{saWarnEncryptAndMac}},
		"hmac-sha2-512-96":                 {[]string{saFailOpenssh61Remove}, []string{saWarnEncryptAndMac}},
		"hmac-sha3-224":                    {nil, []string{saWarnEncryptAndMac}},
		"hmac-sha3-256":                    {nil, []string{saWarnEncryptAndMac}},
		"hmac-sha3-384":                    {nil, []string{saWarnEncryptAndMac}},
		"hmac-sha3-512":                    {nil, []string{saWarnEncryptAndMac}},
		"hmac-sha256":                      {nil, []string{saWarnEncryptAndMac}},
		"hmac-sha256-96@ssh.com":           {nil, []string{saWarnEncryptAndMac, saWarnTagSize}},
		"hmac-sha256@ssh.com":              {nil, []string{saWarnEncryptAndMac}},
		"hmac-sha512":                      {nil, []string{saWarnEncryptAndMac}},
		"hmac-sha512@ssh.com":              {nil, []string{saWarnEncryptAndMac}},
		"hmac-md5":                         {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy, saWarnEncryptAndMac, saWarnHashWeak}},
		"hmac-md5-96":                      {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy, saWarnEncryptAndMac, saWarnHashWeak}},
		"hmac-ripemd":                      {[]string{saFailDeprecatedMac}, []string{saWarnOpenssh72Legacy, saWarnEncryptAndMac}},
		"hmac-ripemd160":                   {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy, saWarnEncryptAndMac}},
		"hmac-ripemd160-96":                {[]string{saFailDeprecatedMac}, []string{saWarnEncryptAndMac, saWarnTagSize}},
		"hmac-ripemd160@openssh.com":       {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy, saWarnEncryptAndMac}},
		"umac-64@openssh.com":              {nil, []string{saWarnEncryptAndMac, saWarnTagSize}},
		"umac-128@openssh.com":             {nil, []string{saWarnEncryptAndMac}},
		"hmac-sha1-etm@openssh.com":        {nil, []string{saWarnHashWeak}},
		"hmac-sha1-96-etm@openssh.com":     {[]string{saFailOpenssh67Unsafe}, []string{saWarnHashWeak}},
		"hmac-sha2-256-96-etm@openssh.com": {nil, []string{saWarnTagSize96}},
		"hmac-sha2-512-96-etm@openssh.com": {nil, []string{saWarnTagSize96}},
		"hmac-md5-etm@openssh.com":         {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy, saWarnHashWeak}},
		"hmac-md5-96-etm@openssh.com":      {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy, saWarnHashWeak}},
		"hmac-ripemd160-etm@openssh.com":   {[]string{saFailOpenssh67Unsafe}, []string{saWarnOpenssh72Legacy}},
		"umac-32@openssh.com":              {nil, []string{saWarnEncryptAndMac, saWarnTagSize}},
		"umac-64-etm@openssh.com":          {nil, []string{saWarnTagSize}},
		"umac-96@openssh.com":              {nil, []string{saWarnEncryptAndMac}},
		"crypticore-mac@ssh.com":           {[]string{saFailUnproven}, nil},
	},
}
