package main

import (
	"context"
	"errors"
	"io"
)

func cmdEdge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not available in this build yet")
}

func cmdConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not available in this build yet")
}
