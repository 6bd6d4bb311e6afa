package compress

import (
	"slices"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	var zero Config
	if err := zero.Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	ok := Config{MinSize: 1, MaxSize: 1 << 30, Types: []string{"text/*", "+json", "application/json"},
		Encodings: []Encoding{Zstd, Gzip}, Levels: map[Encoding]Level{Brotli: 11, Gzip: DefaultLevel}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid Config: %v", err)
	}
	bad := Config{
		MinSize:   -1,
		MaxSize:   -2,
		Types:     []string{"text", "+", "a b/c"},
		Encodings: []Encoding{Identity, "deflate", Gzip, Gzip},
		Levels:    map[Encoding]Level{Gzip: 5, "deflate": 1},
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid Config: no error")
	}
	for _, path := range []string{"min_size:", "max_size:", "types[0]:", "types[1]:", "types[2]:",
		"encodings[0]:", "encodings[1]:", "encodings[3]:", "levels.gzip:", "levels.deflate:"} {
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error does not name %s:\n%v", path, err)
		}
	}
	if c := (Config{MinSize: 1000, MaxSize: 10}); c.Validate() == nil {
		t.Error("max_size below min_size: no error")
	}
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	if got := c.Offer(); !slices.Equal(got, []Encoding{Brotli, Zstd, Gzip}) {
		t.Errorf("Offer() = %v", got)
	}
	for _, enc := range []Encoding{Gzip, Brotli, Zstd} {
		if c.Level(enc) != DefaultLevelOf(enc) {
			t.Errorf("Level(%s) = %d, want %d", enc, c.Level(enc), DefaultLevelOf(enc))
		}
	}
	c.Levels = map[Encoding]Level{Brotli: 11}
	if c.Level(Brotli) != 11 {
		t.Errorf("Level(br) = %d, want 11", c.Level(Brotli))
	}
}
