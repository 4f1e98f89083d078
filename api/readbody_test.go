package api

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAllSized reads what io.ReadAll reads whatever size it is told,
// including a wrong one, and passes on a reader's error.
func TestReadAllSized(t *testing.T) {
	body := strings.Repeat(`{"event":"job.started"}`, 40)
	for _, size := range []int64{-1, 0, 1, 100, int64(len(body)) - 1, int64(len(body)), int64(len(body)) + 1, 1 << 20} {
		for name, r := range map[string]func() io.Reader{
			"whole":    func() io.Reader { return strings.NewReader(body) },
			"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(body)) },
		} {
			got, err := readAllSized(r(), size)
			if err != nil || string(got) != body {
				t.Fatalf("size %d, %s reads: %d bytes, %v; want the %d bytes", size, name, len(got), err, len(body))
			}
		}
	}
	got, err := readAllSized(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(io.ErrUnexpectedEOF)), 10)
	if err != io.ErrUnexpectedEOF || !bytes.Equal(got, []byte("abc")) {
		t.Fatalf("a broken body: %q, %v; want abc and the error", got, err)
	}
}
