package main

import (
	"context"
	"io"
)

func loadCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error { return nil }
