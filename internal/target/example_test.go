package target_test

import (
	"errors"
	"fmt"

	"github.com/sortie-sec/sortie/internal/target"
)

func ExampleParse() {
	for _, s := range []string{
		"https://Example.COM:8443/Login",
		"example.com/admin",
		"10.0.0.0/24",
		"[::1]:8080",
		"WWW.Example.com.",
		"alice@example.com",
		"./targets.txt",
		"Acme Corp",
	} {
		t, err := target.Parse(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-9s %-32s host=%q port=%d\n", t.Type, t.Value, t.Host, t.Port)
	}

	_, err := target.Parse("-oX")
	fmt.Println(err)
	fmt.Println(errors.Is(err, target.ErrFlagLike))

	_, err = target.Parse("example.com:65536")
	fmt.Println(err)

	// Output:
	// url       https://example.com:8443/Login   host="example.com" port=8443
	// url       http://example.com/admin         host="example.com" port=0
	// cidr      10.0.0.0/24                      host="" port=0
	// host:port [::1]:8080                       host="::1" port=8080
	// host      www.example.com                  host="www.example.com" port=0
	// email     alice@example.com                host="example.com" port=0
	// path      ./targets.txt                    host="" port=0
	// string    Acme Corp                        host="" port=0
	// target "-oX" starts with "-": it could be read as a flag
	// true
	// target "example.com:65536" has the invalid port "65536": a port is a number from 1 to 65535
}

func ExampleDetect() {
	fmt.Println(target.Detect("192.0.2.1"))
	fmt.Println(target.Detect("2001:db8::/32"))
	fmt.Println(target.Detect("-iL"))
	// Output:
	// ip
	// cidr
	//
}
