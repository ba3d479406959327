package tool

import (
	"bytes"
	"errors"
	"net/netip"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// mapcidr expands CIDR ranges into their addresses: one ip finding per
// address (not known to be alive), for the tools that take single IPs.
func mapcidrTool() *Definition {
	return &Definition{
		Name:        "mapcidr",
		Description: "Expand CIDR ranges into IP addresses, with filters",
		Binary:      "mapcidr",
		Install: Install{Go: &GoInstall{
			Module: "github.com/projectdiscovery/mapcidr", Version: "v1.1.97", Package: "./cmd/mapcidr",
		}},
		Version: VersionCommand{Args: []string{"-version"}, Regex: `Current Version: v?([0-9][^\s]*)`},
		Inputs:  []target.Type{target.CIDR, target.IP},
		// -cidr reads a file of CIDRs when given a path.
		Input: Input{Mode: InputFile, Flag: "-cidr"},
		Options: map[string]Flag{
			"skip_base":      {Flag: "-skip-base"},
			"skip_broadcast": {Flag: "-skip-broadcast"},
			"match_ip":       {Flag: "-mi", Join: ","},
			"filter_ip":      {Flag: "-fi", Join: ","},
			"ipv4_only":      {Flag: "-f4"},
			"ipv6_only":      {Flag: "-f6"},
			"shuffle":        {Flag: "-si"},
		},
		Extra: []Option{
			{Name: "skip_base", Kind: KindBool, Help: "leave out base addresses (ending in .0)"},
			{Name: "skip_broadcast", Kind: KindBool, Help: "leave out broadcast addresses (ending in .255)"},
			{Name: "match_ip", Kind: KindList, Help: "keep only these IPs or CIDRs"},
			{Name: "filter_ip", Kind: KindList, Help: "leave out these IPs or CIDRs"},
			{Name: "ipv4_only", Kind: KindBool, Help: "keep only IPv4 addresses"},
			{Name: "ipv6_only", Kind: KindBool, Help: "keep only IPv6 addresses"},
			{Name: "shuffle", Kind: KindBool, Help: "print the addresses in random order"},
		},
		Fixed:  []string{"-silent", "-duc"},
		Output: Output{Format: FormatLines},
		Parse:  Parser{Line: parseMapcidrLine},
	}
}

var errMapcidrNotIP = errors.New("not an IP address")

func parseMapcidrLine(_ *ParseContext, line []byte, emit finding.Emit) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return ErrSkip
	}
	a, err := netip.ParseAddr(string(line))
	if err != nil {
		// A prefix is valid output (mapcidr aggregates or slices ranges with
		// other flags) but not an address.
		if _, perr := netip.ParsePrefix(string(line)); perr == nil {
			return ErrSkip
		}
		return errMapcidrNotIP
	}
	emit(&finding.IP{IP: a.String()})
	return nil
}
