package tool

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// errNotJSON is returned by line parsers for a line that is not a JSON
// object; such lines are counted and skipped.
var errNotJSON = errors.New("not a JSON object")

// decodeLine decodes one JSON-lines record into v.
func decodeLine(line []byte, v any) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return ErrSkip
	}
	if line[0] != '{' {
		return errNotJSON
	}
	return json.Unmarshal(line, v)
}

// flexInt reads a JSON number or a string holding one ("8080" and 8080 both
// appear in tool output for the same field across versions).
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	n, err := flexNumber(b)
	*f = flexInt(n)
	return err
}

// flexFloat reads a JSON number or a string holding one.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	n, err := flexNumber(b)
	*f = flexFloat(n)
	return err
}

// flexNumber reads a number, a quoted number, "", or null (0).
func flexNumber(b []byte) (float64, error) {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return 0, nil
	}
	return strconv.ParseFloat(s, 64)
}

// flexStrings reads a JSON string or an array of strings (nuclei's author and
// reference fields changed shape across versions).
type flexStrings []string

func (f *flexStrings) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		var s []string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = s
		return nil
	}
	if string(b) == "null" {
		*f = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		*f = nil
		return nil
	}
	*f = strings.Split(s, ",")
	for i := range *f {
		(*f)[i] = strings.TrimSpace((*f)[i])
	}
	return nil
}
