package api

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// checkDecodeClaims fails t when decodeClaims accepts b with claims other
// than encoding/json's, and reports whether it accepted.
func checkDecodeClaims(t *testing.T, b []byte) bool {
	t.Helper()
	var fast, std jwt.RegisteredClaims
	if !decodeClaims(b, &fast) {
		return false
	}
	if err := json.Unmarshal(b, &std); err != nil {
		t.Fatalf("decodeClaims accepted %q, encoding/json refuses it: %v", b, err)
	}
	if !reflect.DeepEqual(fast, std) {
		t.Fatalf("decodeClaims %+v, encoding/json %+v, for %q", fast, std, b)
	}
	return true
}

// TestDecodeClaimsTakesMintedTokens: the claims of the tokens
// MintShopperToken writes take the decoder, not encoding/json, with
// encoding/json's result; forms it leaves to encoding/json are left.
func TestDecodeClaimsTakesMintedTokens(t *testing.T) {
	for _, c := range []struct{ user, iss, aud string }{
		{"shopper-1", "", ""}, {"zoë 🙂", "shop", "flashdrop"}, {"a", "shop", ""},
	} {
		tok, err := MintShopperToken(authTestSecret, c.user, time.Hour, authTestT0, c.iss, c.aud)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		if !checkDecodeClaims(t, payload) {
			t.Errorf("%s: decodeClaims left %s to encoding/json", c.user, payload)
		}
	}
	for _, s := range []string{
		`{}`, ` { "sub" : "a" , "exp" : 0 } `, `{"sub":"a","x":null,"y":true,"z":false,"n":12,"s":"é"}`,
		`{"jti":"j","nbf":1,"iat":999999999999999}`, `{"aud":[]}`, `{"aud":[ "a" , "b" ]}`, `{"aud":"a"}`, "{\"sub\":\"a\x7f\"}",
	} {
		if !checkDecodeClaims(t, []byte(s)) {
			t.Errorf("decodeClaims left %s to encoding/json", s)
		}
	}
	for _, s := range []string{
		`{"SUB":"a"}`, `{"Exp":1}`, `{"sub":"a","sub":"b"}`, `{"sub":"a\"b"}`, `{"sub":"\u0041"}`,
		`{"exp":1.5}`, `{"exp":1e3}`, `{"exp":-1}`, `{"exp":01}`, `{"exp":"1"}`, `{"exp":null}`,
		`{"exp":1000000000000000}`, `{"aud":["a",1]}`, `{"aud":["a",]}`, `{"aud":["a"}`, `{"x":{}}`, `{"x":[]}`, `{"sub":"a"} x`,
		`{"sub":"a",}`, `{"sub":"a"`, `null`, `[]`, "{\"sub\":\"\xff\"}", "{\"ſub\":\"a\"}",
		`{"sub":"a" "exp":1}`, `{"x":tru}`, `{"x":nul,"sub":"a"}`, `{"x":truex}`,
	} {
		if checkDecodeClaims(t, []byte(s)) {
			t.Errorf("decodeClaims took %s", s)
		}
	}
}

func BenchmarkDecodeClaims(b *testing.B) {
	tok, err := MintShopperToken(authTestSecret, "shopper-12345", time.Hour, authTestT0, "", "")
	if err != nil {
		b.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	b.Run("decodeClaims", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c jwt.RegisteredClaims
			if !decodeClaims(payload, &c) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c jwt.RegisteredClaims
			if json.Unmarshal(payload, &c) != nil {
				b.Fatal("refused")
			}
		}
	})
}
