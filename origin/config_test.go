package origin

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	err := Config{
		Root:             "a\x00b",
		FileCacheControl: "max-age=1\r\nX: y",
		MaxSize:          -1,
		DigestCacheSize:  -2,
	}.Validate()
	if err == nil {
		t.Fatal("invalid Config: no error")
	}
	for _, field := range []string{"Root:", "FileCacheControl:", "MaxSize:", "DigestCacheSize:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
	if _, err := New(Config{MaxSize: -1}); err == nil {
		t.Error("New accepted an invalid Config")
	}
}
