package config

import (
	"errors"
	"fmt"
	"time"
)

// HTTPConfig bounds what one client can hold of the API's HTTP server: time
// to send a request and to read the answer, idle keep-alive connections,
// header size and the requests served at once.
type HTTPConfig struct {
	ReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT" envDefault:"10s" desc:"longest time a client may take to send a request's headers"`
	ReadTimeout       time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"30s" desc:"longest time a client may take to send a whole request, body included; a slower client is cut off (408 or a closed connection) and nothing of its request is recorded"`
	WriteTimeout      time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"60s" desc:"longest time from the end of a request's headers to the end of its answer (at least HTTP_READ_TIMEOUT); the live stream (/api/v1/simpleprint/stream) is exempt and instead gets this long for each write"`
	IdleTimeout       time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"120s" desc:"how long an idle keep-alive connection is kept open"`
	MaxHeaderBytes    int           `env:"HTTP_MAX_HEADER_BYTES" envDefault:"65536" desc:"largest request line and headers; larger ones get 431"`
	MaxConcurrent     int           `env:"HTTP_MAX_CONCURRENT" envDefault:"256" desc:"requests served at once per API process (open live streams count); beyond it 503 with Retry-After: 1. /healthz, /readyz and /metrics are not counted. 0: no bound"`
}

func (c HTTPConfig) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"HTTP_READ_HEADER_TIMEOUT", c.ReadHeaderTimeout}, {"HTTP_READ_TIMEOUT", c.ReadTimeout},
		{"HTTP_WRITE_TIMEOUT", c.WriteTimeout}, {"HTTP_IDLE_TIMEOUT", c.IdleTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", d.name, d.v))
		}
	}
	if c.ReadHeaderTimeout > c.ReadTimeout && c.ReadTimeout > 0 {
		errs = append(errs, fmt.Errorf("HTTP_READ_HEADER_TIMEOUT (%s) must not be longer than HTTP_READ_TIMEOUT (%s), which includes the headers", c.ReadHeaderTimeout, c.ReadTimeout))
	}
	if c.WriteTimeout < c.ReadTimeout && c.WriteTimeout > 0 {
		errs = append(errs, fmt.Errorf("HTTP_WRITE_TIMEOUT (%s) must not be shorter than HTTP_READ_TIMEOUT (%s): the answer is written after the body is read, within the same deadline", c.WriteTimeout, c.ReadTimeout))
	}
	if c.MaxHeaderBytes < 4096 {
		errs = append(errs, fmt.Errorf("HTTP_MAX_HEADER_BYTES: must be at least 4096, got %d", c.MaxHeaderBytes))
	}
	if c.MaxConcurrent < 0 {
		errs = append(errs, fmt.Errorf("HTTP_MAX_CONCURRENT: must be 0 (no bound) or positive, got %d", c.MaxConcurrent))
	}
	return errors.Join(errs...)
}
