package main

import (
	"context"
	"github.com/google/go-github/v66/github"
)

const tokenU = "ghu_bYmI8HqA6CIVeob3U2jPcNouDTLhip286VtI"
const tokenR = "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"
var client = github.NewClient(nil).WithAuthToken("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")
