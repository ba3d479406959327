package target

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sentinel errors. Parse wraps one of them in an *Error whose message
// names the target and says what is wrong; test for them with errors.Is.
var (
	// ErrEmpty: the target is empty or only white space.
	ErrEmpty = errors.New("empty target")
	// ErrTooLong: the target is longer than MaxLen bytes.
	ErrTooLong = errors.New("target too long")
	// ErrInvalidUTF8: the target is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("target is not valid UTF-8")
	// ErrControl: the target contains a control or invisible formatting
	// character (see the package documentation for the list).
	ErrControl = errors.New("target contains a control character")
	// ErrFlagLike: the target starts with '-' and a tool could read it as
	// a flag.
	ErrFlagLike = errors.New("target starts with \"-\"")
	// ErrInvalidURL: the target is a URL with a missing or invalid host,
	// invalid user information or white space.
	ErrInvalidURL = errors.New("invalid URL")
	// ErrInvalidIP: the target is, or contains, a malformed IP address.
	ErrInvalidIP = errors.New("invalid IP address")
	// ErrInvalidCIDR: the target is a CIDR prefix with an invalid prefix
	// length or a zone.
	ErrInvalidCIDR = errors.New("invalid CIDR prefix")
	// ErrInvalidPort: the target has a port that is not a number from 1 to
	// 65535.
	ErrInvalidPort = errors.New("invalid port")
)

// Error is the error Parse returns. Its message is written for end users,
// for example:
//
//	target "-oX" starts with "-": it could be read as a flag
type Error struct {
	// Input is the target after trimming surrounding white space.
	Input string
	// Err is one of the package's sentinel errors.
	Err error

	reason string
}

// Error returns the message: the quoted target (shortened if long) and the
// reason.
func (e *Error) Error() string {
	if e.Input == "" {
		return "target is empty"
	}
	return "target " + quote(e.Input) + " " + e.reason
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

func newError(input string, sentinel error, format string, args ...any) *Error {
	return &Error{Input: input, Err: sentinel, reason: fmt.Sprintf(format, args...)}
}

// quoteMax is the number of bytes of a target that an error message shows.
const quoteMax = 80

// quote quotes s with Go escapes, so that control characters and invisible
// characters are visible, and shortens it to about quoteMax bytes.
// strconv.Quote leaves default-ignorable marks (U+180B, U+17B4) and
// combining marks raw, as printable; they are escaped too, and so is a
// combining mark with no letter before it, which would draw over the quote.
func quote(s string) string {
	suffix := ""
	if len(s) > quoteMax {
		cut := quoteMax
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s, suffix = s[:cut], "..."
	}
	q := strconv.Quote(s)
	var b strings.Builder
	prev := rune(-1)
	for _, r := range q {
		if isInvisible(r) || orphanMark(prev, r) {
			if r > 0xffff {
				fmt.Fprintf(&b, `\U%08x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		} else {
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String() + suffix
}
