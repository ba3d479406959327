package tool

import (
	"fmt"
	"strings"
)

// checkAllowed refuses a value outside the option's allow-list.
func (o Option) checkAllowed(v string) error {
	if len(o.Allowed) == 0 {
		return nil
	}
	if _, ok := o.canonical(v); ok {
		return nil
	}
	if o.Sensitive {
		return fmt.Errorf("option %s: the value is not one of %s", o.Name, strings.Join(o.Allowed, ", "))
	}
	return fmt.Errorf("option %s: %q is not one of %s", o.Name, v, strings.Join(o.Allowed, ", "))
}

// canonical is the allow-list's spelling of v.
func (o Option) canonical(v string) (string, bool) {
	for _, a := range o.Allowed {
		if strings.EqualFold(a, v) {
			return a, true
		}
	}
	return "", false
}

// canonicalValues spells allow-listed values as the allow-list does, so the
// tool never sees a spelling sortie did not check ("T" and "t" both checked
// as nmap's connect scan, say).
func (o Option) canonicalValues(values []string) []string {
	if len(o.Allowed) == 0 {
		return values
	}
	out := make([]string, len(values))
	for i, v := range values {
		if c, ok := o.canonical(v); ok {
			out[i] = c
		} else {
			out[i] = v
		}
	}
	return out
}
