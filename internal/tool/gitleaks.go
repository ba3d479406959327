package tool

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// gitleaks finds secrets (keys, tokens, passwords) in files and git history:
// one tag finding per secret, category "secret", matched at file:line.
//
// The subcommand is an option, mode, defaulting to "dir": it scans the files
// of any path, a git work tree included (gitleaks skips .git itself), whereas
// "git" fails on a path that is not a repository. Choosing by looking for
// PATH/.git would need a Definition hook that sees the targets (see the
// report of this change); "git" is the mode to pick for a repository, as it
// also finds the secrets that later commits removed.
func gitleaksTool() *Definition {
	return &Definition{
		Name:        "gitleaks",
		Description: "Secrets in files and git history (API keys, tokens, passwords)",
		Binary:      "gitleaks",
		Install: Install{Go: &GoInstall{
			Module: "github.com/zricethezav/gitleaks/v8", Version: "v8.30.1", Package: ".",
			LDFlags: "-X github.com/zricethezav/gitleaks/v8/version.Version=8.30.1",
		}},
		Version:      VersionCommand{Args: []string{"version"}, Regex: `v?([0-9]+\.[0-9]+\.[0-9][^\s]*)`},
		Inputs:       []target.Type{target.Path},
		Input:        Input{Mode: InputArg},
		SingleTarget: true,
		Options: map[string]Flag{
			// The subcommand must come first: mode is the first option built
			// (gitleaks maps no unified option, and it is the first Extra).
			"mode":                 {Args: func(v string) []string { return []string{v} }},
			"config":               {Flag: "--config"},
			"enable_rule":          {Flag: "--enable-rule", Join: ","},
			"max_target_megabytes": {Flag: "--max-target-megabytes"},
			"redact":               {Flag: "--redact"},
		},
		Extra: []Option{
			{Name: "mode", Kind: KindString, Default: "dir", Allowed: []string{"dir", "git"},
				Help: "dir (files of any path) or git (the history of a repository)"},
			{Name: "config", Kind: KindString, Path: true, Help: "gitleaks TOML config with the rules to use"},
			{Name: "enable_rule", Kind: KindList, Help: "use only these rule ids (e.g. aws-access-token)"},
			{Name: "max_target_megabytes", Kind: KindInt, Help: "skip files larger than this"},
			{Name: "redact", Kind: KindBool,
				Help: "let gitleaks redact secrets in its own report (findings then show REDACTED)"},
		},
		// --exit-code 0: leaks are results, not a failure.
		Fixed:  []string{"--no-banner", "--no-color", "--exit-code", "0"},
		Output: Output{Format: FormatJSON, File: []string{"--report-format", "json", "--report-path", "{file}"}},
		Parse:  Parser{Document: parseGitleaksReport},
	}
}

type gitleaksRecord struct {
	RuleID      string   `json:"RuleID"`
	Description string   `json:"Description"`
	StartLine   int      `json:"StartLine"`
	Secret      string   `json:"Secret"`
	File        string   `json:"File"`
	Commit      string   `json:"Commit"`
	Author      string   `json:"Author"`
	Email       string   `json:"Email"`
	Date        string   `json:"Date"`
	Entropy     float64  `json:"Entropy"`
	Tags        []string `json:"Tags"`
	Fingerprint string   `json:"Fingerprint"`
}

// parseGitleaksReport reads gitleaks' JSON report, an array of leaks.
//
// The report holds every secret in clear (Secret, Match, Line): findings
// keep only a masked form of it (maskSecret), so that the secret is not
// copied into the findings store, reports and logs. The report file itself
// stays in the task directory.
func parseGitleaksReport(pc *ParseContext, data []byte, emit finding.Emit) error {
	var leaks []json.RawMessage
	if err := json.Unmarshal(data, &leaks); err != nil {
		return fmt.Errorf("gitleaks report: %w", err)
	}
	root := ""
	if len(pc.Targets) == 1 {
		root = pc.Targets[0]
	}
	bad := 0
	for _, raw := range leaks {
		var r gitleaksRecord
		if err := json.Unmarshal(raw, &r); err != nil || r.RuleID == "" {
			bad++
			continue
		}
		file := underRoot(root, r.File)
		extra := map[string]any{"description": r.Description}
		if r.Entropy != 0 {
			extra["entropy"] = r.Entropy
		}
		for k, v := range map[string]string{
			"commit": r.Commit, "author": r.Author, "email": r.Email, "date": r.Date, "fingerprint": r.Fingerprint,
		} {
			if v != "" {
				extra[k] = v
			}
		}
		if len(r.Tags) > 0 {
			extra["tags"] = r.Tags
		}
		// A secret found again in another commit at the same file and line
		// is the same finding: the one to rotate.
		emit(&finding.Tag{
			Name: r.RuleID, Category: "secret", Match: file + ":" + strconv.Itoa(r.StartLine),
			Value: maskSecret(r.Secret), ExtraData: extra,
		})
	}
	if bad > 0 {
		return fmt.Errorf("gitleaks report: %d unreadable entries", bad)
	}
	return nil
}

// maskSecret keeps the first 4 characters of a secret (a third of it when
// it is shorter than 12), enough to recognise a key's kind ("ghp_", "AKIA")
// and tell two secrets apart, never enough to use it. gitleaks --redact
// gives "REDACTED", kept as is, or with a percentage the start of the secret
// and "...", masked again.
func maskSecret(s string) string {
	s = strings.TrimSuffix(s, "...")
	if s == "" || s == "REDACTED" {
		return s
	}
	n := min(4, utf8.RuneCountInString(s)/3)
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}

// underRoot returns file as a path under the scanned root: gitleaks gives
// paths relative to the repository in git mode, and paths that start with
// the root in dir mode.
func underRoot(root, file string) string {
	if root == "" || file == "" || path.IsAbs(file) {
		return file
	}
	clean := path.Clean(root)
	if clean == "." || file == clean || strings.HasPrefix(file, clean+"/") {
		return file
	}
	return path.Join(root, file)
}
