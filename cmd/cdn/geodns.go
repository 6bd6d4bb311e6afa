package main

import (
	"context"
	"errors"
	"io"
)

func cmdGeoDNS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not available in this build yet")
}
