package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Odd paths get problem+json like every other answer of the API, never gin's HTML
// redirect page.
func TestOddPathsAnswerProblems(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(e.a)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"/v1/refunds/re_%2e%2e%2f", "/v1/payments/", "/v1/payments//refunds", "/V1/payments", "/v1/payments/pay_1/../../payments"} {
		req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("GET %s: %d %s %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}
