//go:build tools

// Package engine pins the Pulumi CLI's main package so `go mod` keeps its dependencies.
package engine

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
