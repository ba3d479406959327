package redact_test

import (
	"fmt"

	"github.com/sortie-sec/sortie/internal/redact"
)

func ExampleRedactor_String() {
	r := redact.New("Authorization: Bearer s3cr3t-t0k3n", "http://alice:pa55w0rd@127.0.0.1:3128")
	fmt.Println(r.String(`curl -H 'Authorization: Bearer s3cr3t-t0k3n' http://127.0.0.1/`))
	fmt.Println(r.String(`{"headers":{"Authorization":"Bearer s3cr3t\u002dt0k3n"}}`))
	fmt.Println(r.String(`GET /?auth=Bearer%20s3cr3t-t0k3n`))
	fmt.Println(r.String(`proxy alice:pa55w0rd refused`))
	// Output:
	// curl -H '[REDACTED]' http://127.0.0.1/
	// {"headers":{"Authorization":"[REDACTED]"}}
	// GET /?auth=[REDACTED]
	// proxy [REDACTED] refused
}
