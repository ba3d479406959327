package tool

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// fping pings many hosts at once: an ip finding (alive) per host that
// answered.
func fpingTool() *Definition {
	return &Definition{
		Name:        "fping",
		Description: "ICMP ping sweep: which hosts are alive",
		Binary:      "fping",
		Install:     Install{Apt: []string{"fping"}},
		Version:     VersionCommand{Args: []string{"-v"}, Regex: `Version ([0-9][^\s]*)`},
		Inputs:      []target.Type{target.IP, target.Host},
		// fping reads targets from stdin when it gets none as arguments
		// (-f is root-only): no argv length limit.
		Input: Input{Mode: InputStdin},
		Options: map[string]Flag{
			"timeout": {Flag: "-t", Unit: "ms"},
			// -i is the minimum gap between any two pings, fping's delay.
			"delay":     {Flag: "-i", Unit: "ms"},
			"rdns":      {Flag: "-d"},
			"ipv4":      {Flag: "-4"},
			"ipv6":      {Flag: "-6"},
			"interface": {Flag: "-I"},
			"source":    {Flag: "-S"},
		},
		Extra: []Option{
			{Name: "rdns", Kind: KindBool, Help: "look up each address's name (reverse DNS) and report it as the host"},
			{Name: "ipv4", Kind: KindBool, Help: "ping IPv4 addresses only"},
			{Name: "ipv6", Kind: KindBool, Help: "ping IPv6 addresses only"},
			{Name: "interface", Kind: KindString, Help: "send from this network interface"},
			{Name: "source", Kind: KindString, Help: "source address"},
		},
		// -A prints addresses, so that a host name target gives an IP. The
		// retry count is fixed at 1: the retries option is not offered
		// because a fixed flag would override it.
		Fixed:  []string{"-a", "-A", "-r", "1"},
		Output: Output{Format: FormatLines},
		Parse:  Parser{Line: parseFpingLine},
		// 1: some hosts unreachable; 2: some names did not resolve. Both are
		// ordinary outcomes of a sweep; 3 (usage) and 4 (system call) are
		// errors.
		OKExitCodes: []int{1, 2},
	}
}

// fpingLine matches "ADDR", "NAME (ADDR)" (-A with -d or -n), "... is alive"
// or "... is unreachable" (without -a), and a trailing "(0.04 ms)" (-e).
var fpingLine = regexp.MustCompile(`^(\S+)(?: \(([^()]*)\))?(?: is (alive|unreachable))?(?: \(([^()]*)\))?$`)

func parseFpingLine(_ *ParseContext, line []byte, emit finding.Emit) error {
	s := strings.TrimSpace(string(line))
	if s == "" {
		return ErrSkip
	}
	m := fpingLine.FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("fping: unexpected line %q", truncateFping(s))
	}
	name, paren, state, rtt := m[1], m[2], m[3], m[4]
	if paren != "" && strings.HasSuffix(paren, " ms") && rtt == "" && state == "" {
		paren, rtt = "", paren // "ADDR (0.04 ms)": the parenthesis is the time
	}
	if rtt != "" && !strings.HasSuffix(rtt, " ms") {
		return fmt.Errorf("fping: unexpected line %q", truncateFping(s))
	}
	ip, host := name, ""
	if paren != "" {
		if _, err := netip.ParseAddr(paren); err != nil {
			return fmt.Errorf("fping: unexpected line %q", truncateFping(s))
		}
		ip, host = paren, name
	}
	if _, err := netip.ParseAddr(ip); err != nil {
		if target.Detect(ip) == target.Host {
			// A bare name: output of a run without -A. It says the host is
			// up but not at which address, so there is no ip finding.
			return ErrSkip
		}
		return fmt.Errorf("fping: %q is neither an address nor a host name", truncateFping(ip))
	}
	if state == "unreachable" {
		return ErrSkip
	}
	if host == ip || target.Detect(host) != target.Host {
		host = "" // "ADDR (ADDR)": -d found no name
	}
	emit(&finding.IP{IP: ip, Host: host, Alive: true})
	return nil
}

func truncateFping(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
