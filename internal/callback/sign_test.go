package callback_test

import (
	"bytes"
	"os/exec"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/callback"
)

func TestSign(t *testing.T) {
	tests := []struct {
		name, secret, body, want string
	}{
		// RFC 4231 test case 2.
		{"rfc4231", "Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		// Computed with Python: hmac.new(b"your-shared-secret-key", body, hashlib.sha256).hexdigest()
		{"seed payload", "your-shared-secret-key",
			`{"job_id":"365a09ce-5416-49b5-8471-d6aad042761c","status":"completed","timestamp":"2025-08-06T11:30:00Z","total_lots":10,"completed_lots":10,"failed_lots":0,"webhook_url":"https://your-domain.com/webhook-handler","results_available":true}`,
			"c1376b5c3c217c3ac75f32e796fe70b2c6be7dc88554928a6347779972f0b7a0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callback.Sign(tt.secret, []byte(tt.body)); got != tt.want {
				t.Errorf("Sign = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestSignMatchesPython runs the seed's Python receiver check on our output.
func TestSignMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed; TestSign holds a Python-computed vector")
	}
	body := []byte(`{"job_id":"j-1","webhook_url":"https://x.example/h?a=1&b=\u00e9"}`)
	cmd := exec.Command(py, "-c", `import sys,hmac,hashlib
payload = sys.stdin.buffer.read().decode("utf-8")
print(hmac.new("s3cret-ключ".encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).hexdigest(), end="")`)
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	if got := callback.Sign("s3cret-ключ", body); got != string(out) {
		t.Errorf("Sign = %s, Python computes %s", got, out)
	}
}

func TestSignStandard(t *testing.T) {
	msgID := "msg_p5jXN8AQM9LWM0D4loKWxJek"
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	tests := []struct {
		name, secret, want string
	}{
		// The vector of the reference Go library's TestWebhookSign.
		{"whsec secret is base64-decoded", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
		// Python: base64.b64encode(hmac.new(b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b"msg_...1614265330.{...}", sha256).digest())
		{"other secrets are raw bytes", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "v1,ELhqG0Ku1gwOc1f4jyKdp3SFGFLAOdJ9bvpWLciCakI="},
		{"whsec with bad base64 falls back to raw", "whsec_not base64!", "v1,yUD2RuJUXJQ8HKsyjzbAMVmj4/ZkDavgvNxmEyGpKuU="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callback.SignStandard(tt.secret, msgID, ts, body); got != tt.want {
				t.Errorf("SignStandard = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestValidStandardSecret(t *testing.T) {
	tests := map[string]bool{
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw": true,
		"plain-shared-secret":                    true,
		"whsec_":                                 false,
		"whsec_not base64!":                      false,
		"":                                       false,
	}
	for secret, want := range tests {
		if got := callback.ValidStandardSecret(secret); got != want {
			t.Errorf("ValidStandardSecret(%q) = %v, want %v", secret, got, want)
		}
	}
}
