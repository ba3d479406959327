package tool

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// trivy scans a directory or repository for secrets, misconfigured
// infrastructure files (Dockerfile, Kubernetes, Terraform ...) and, with a
// vulnerability database, vulnerable packages:
//
//   - a secret is a tag of category "secret" matched at file:line, like
//     gitleaks' (trivy masks the secret itself);
//   - a misconfiguration is a vulnerability: it has a check id, a severity,
//     a resolution and references, which is what a pentester triages;
//   - a vulnerable package is a vulnerability with its CVE and CVSS.
//
// trivy runs as "trivy fs" with the scanners option (default secret and
// misconfig: the two that need no database). "trivy config" is the same scan
// as "trivy fs --scanners misconfig", so --scanners misconfig reaches it; vuln
// needs a vulnerability database already on disk (updates are skipped).
func trivyTool() *Definition {
	return &Definition{
		Name:        "trivy",
		Description: "Secrets, IaC misconfigurations and vulnerable packages in files and repositories",
		Binary:      "trivy",
		Install: Install{Go: &GoInstall{
			Module: "github.com/aquasecurity/trivy", Version: "v0.74.0", Package: "./cmd/trivy",
			LDFlags: "-X github.com/aquasecurity/trivy/pkg/version/app.ver=0.74.0",
			Env:     []string{"GOEXPERIMENT=jsonv2", "CGO_ENABLED=0"},
		}},
		Version:      VersionCommand{Args: []string{"--version"}, Regex: `Version: v?([0-9][^\s]*)`},
		Inputs:       []target.Type{target.Path},
		Input:        Input{Mode: InputArg},
		SingleTarget: true,
		Options: map[string]Flag{
			// scanners carries the subcommand, which must come first: it is
			// the first option built (trivy maps no unified option: its
			// --timeout bounds the whole scan, not a request).
			"scanners":  {Args: trivyFS},
			"severity":  {Flag: "--severity", Join: ","},
			"skip_dirs": {Flag: "--skip-dirs", Join: ","},
			"parallel":  {Flag: "--parallel"},
			"cache_dir": {Flag: "--cache-dir"},
		},
		Extra: []Option{
			{Name: "scanners", Kind: KindString, Default: "secret,misconfig",
				Help: "comma-separated: secret, misconfig, vuln, license (vuln needs a local database)"},
			{Name: "severity", Kind: KindList, Help: "keep only these severities (e.g. HIGH,CRITICAL)"},
			{Name: "skip_dirs", Kind: KindList, Help: "directories not to scan (e.g. node_modules)"},
			{Name: "parallel", Kind: KindInt, Help: "files analysed in parallel (default 5)"},
			{Name: "cache_dir", Kind: KindString, Path: true,
				Help: "trivy's cache and database directory (default under HOME, which is per task)"},
		},
		// --skip-check-update: use the misconfiguration checks built into
		// the binary instead of downloading them.
		Fixed:  []string{"--skip-check-update", "--skip-version-check", "--disable-telemetry"},
		Output: Output{Format: FormatJSON, File: []string{"-f", "json", "-o", "{file}"}},
		Parse:  Parser{Document: parseTrivyReport},
	}
}

// trivyFS returns the subcommand, its offline flags (no database or
// checks download, no version check, no telemetry) and the scanners.
func trivyFS(v string) []string {
	return []string{"fs", "--skip-db-update", "--skip-java-db-update", "--offline-scan", "--scanners", v}
}

type trivyReport struct {
	ArtifactName string `json:"ArtifactName"`
	ArtifactType string `json:"ArtifactType"`
	Results      []struct {
		Target  string `json:"Target"`
		Class   string `json:"Class"`
		Type    string `json:"Type"`
		Secrets []struct {
			RuleID    string `json:"RuleID"`
			Category  string `json:"Category"`
			Severity  string `json:"Severity"`
			Title     string `json:"Title"`
			StartLine int    `json:"StartLine"`
			Match     string `json:"Match"`
		} `json:"Secrets"`
		Misconfigurations []struct {
			Type          string   `json:"Type"`
			ID            string   `json:"ID"`
			AVDID         string   `json:"AVDID"`
			Title         string   `json:"Title"`
			Description   string   `json:"Description"`
			Message       string   `json:"Message"`
			Resolution    string   `json:"Resolution"`
			Severity      string   `json:"Severity"`
			PrimaryURL    string   `json:"PrimaryURL"`
			References    []string `json:"References"`
			Status        string   `json:"Status"`
			CauseMetadata struct {
				StartLine int `json:"StartLine"`
			} `json:"CauseMetadata"`
		} `json:"Misconfigurations"`
		Vulnerabilities []struct {
			VulnerabilityID  string   `json:"VulnerabilityID"`
			PkgID            string   `json:"PkgID"`
			PkgName          string   `json:"PkgName"`
			InstalledVersion string   `json:"InstalledVersion"`
			FixedVersion     string   `json:"FixedVersion"`
			Status           string   `json:"Status"`
			SeveritySource   string   `json:"SeveritySource"`
			PrimaryURL       string   `json:"PrimaryURL"`
			Title            string   `json:"Title"`
			Description      string   `json:"Description"`
			Severity         string   `json:"Severity"`
			CweIDs           []string `json:"CweIDs"`
			References       []string `json:"References"`
			DataSource       struct {
				ID string `json:"ID"`
			} `json:"DataSource"`
			CVSS map[string]struct {
				V3Vector string  `json:"V3Vector"`
				V3Score  float64 `json:"V3Score"`
			} `json:"CVSS"`
		} `json:"Vulnerabilities"`
	} `json:"Results"`
}

// parseTrivyReport reads trivy's JSON report (schema version 2; the older
// capture has the same shape with package vulnerabilities).
func parseTrivyReport(_ *ParseContext, data []byte, emit finding.Emit) error {
	var rep trivyReport
	if err := json.Unmarshal(data, &rep); err != nil {
		return fmt.Errorf("trivy report: %w", err)
	}
	for _, res := range rep.Results {
		file := trivyLocation(rep.ArtifactName, rep.ArtifactType, res.Target)
		for _, s := range res.Secrets {
			extra := map[string]any{"title": s.Title, "severity": strings.ToLower(s.Severity)}
			if s.Category != "" {
				extra["provider"] = s.Category
			}
			if s.Match != "" {
				extra["line"] = s.Match // masked by trivy
			}
			emit(&finding.Tag{
				Name: s.RuleID, Category: "secret", Match: trivyAt(file, s.StartLine), ExtraData: extra,
			})
		}
		for _, m := range res.Misconfigurations {
			// Without --include-non-failures only failures are listed;
			// with it, passed checks are not findings.
			if m.Status != "" && m.Status != "FAIL" {
				continue
			}
			id := m.ID
			if id == "" {
				id = m.AVDID
			}
			v := &finding.Vulnerability{
				Name: m.Title, ID: id, Provider: "trivy", MatchedAt: trivyAt(file, m.CauseMetadata.StartLine),
				Severity: m.Severity, Description: m.Description, References: m.References,
				Tags: []string{"misconfiguration"}, ExtraData: map[string]any{"message": m.Message},
			}
			if res.Type != "" {
				v.Tags = append(v.Tags, res.Type)
			}
			if m.Resolution != "" {
				v.ExtraData["resolution"] = m.Resolution
			}
			if len(v.References) == 0 && m.PrimaryURL != "" {
				v.References = []string{m.PrimaryURL}
			}
			if v.Name == "" {
				v.Name = id
			}
			emit(v)
		}
		for _, p := range res.Vulnerabilities {
			// The package is part of where it matched: one CVE can affect
			// several packages of one lock file.
			v := &finding.Vulnerability{
				Name: p.VulnerabilityID, ID: p.VulnerabilityID, Provider: p.DataSource.ID,
				MatchedAt: file + ":" + p.PkgID, Severity: p.Severity, Description: p.Description,
				CWEs: p.CweIDs, References: p.References, Tags: []string{"package"},
				ExtraData: map[string]any{"title": p.Title, "package": p.PkgName,
					"installed_version": p.InstalledVersion},
			}
			if p.PkgID == "" {
				v.MatchedAt = file + ":" + p.PkgName + "@" + p.InstalledVersion
			}
			if strings.HasPrefix(p.VulnerabilityID, "CVE-") {
				v.CVEs = []string{p.VulnerabilityID}
			}
			if p.FixedVersion != "" {
				v.ExtraData["fixed_version"] = p.FixedVersion
			}
			if len(v.References) == 0 && p.PrimaryURL != "" {
				v.References = []string{p.PrimaryURL}
			}
			// The score of the source trivy took the severity from, else
			// the highest one.
			if c, ok := p.CVSS[p.SeveritySource]; ok && c.V3Score > 0 {
				v.CVSSScore, v.CVSSVector = c.V3Score, c.V3Vector
			} else {
				for _, c := range p.CVSS {
					if c.V3Score > v.CVSSScore {
						v.CVSSScore, v.CVSSVector = c.V3Score, c.V3Vector
					}
				}
			}
			emit(v)
		}
	}
	return nil
}

// trivyLocation makes a result's target (a path relative to the scanned
// directory or repository) a path under the artifact, so that two scanned
// trees do not share "config.py:2". Image and other targets are kept.
func trivyLocation(artifact, typ, tgt string) string {
	if (typ != "filesystem" && typ != "repository") || artifact == "" || tgt == artifact {
		return tgt
	}
	if strings.Contains(artifact, "://") {
		return strings.TrimSuffix(artifact, "/") + "/" + strings.TrimPrefix(tgt, "/")
	}
	return underRoot(artifact, tgt)
}

func trivyAt(file string, line int) string {
	if line <= 0 {
		return file
	}
	return file + ":" + strconv.Itoa(line)
}
