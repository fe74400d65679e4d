package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mountainhighway/marketplace/internal/account"
	"github.com/mountainhighway/marketplace/internal/fault"
)

// FuzzDecodeRequests feeds arbitrary bodies to the decoder of every request
// body the API accepts. It must never panic, and must reject anything it
// does not accept with a client error — never an internal one.
func FuzzDecodeRequests(f *testing.F) {
	for _, seed := range []string{
		`{"email":"a@b.co","password":"correct horse battery","name":"A"}`,
		`{"email":"a@b.co","password":"x"}`,
		`{"refreshToken":"rt_AAAA"}`,
		`{"name":"New name"}`,
		`{"name":null}`,
		`{"roles":["buyer","seller"]}`,
		`{"roles":"admin"}`,
		`{"roles":["buyer"],"id":"usr_1"}`,
		`{"email":7}`,
		`[]`, `null`, `""`, `{}`, `{}{}`, `{"a":`, "\xff\xfe", `{"name":"\u0000"}`,
	} {
		f.Add(seed)
	}
	targets := []func() any{
		func() any { return &account.Registration{} },
		func() any { return &credentials{} },
		func() any { return &refreshBody{} },
		func() any { return &account.ProfileUpdate{} },
		func() any { return &rolesBody{} },
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, newTarget := range targets {
			r := httptest.NewRequest("POST", "/", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			err := decodeJSON(r, newTarget())
			if err == nil {
				continue
			}
			if k := fault.KindOf(err); k != fault.Invalid && k != fault.TooLarge {
				t.Fatalf("decodeJSON(%q) = %v (kind %v), want a client error", body, err, k)
			}
		}
	})
}
